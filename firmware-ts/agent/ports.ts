/**
 * What the agent needs from its platform, injected so the same code runs in the simulator, in
 * tests with a fake clock, and on a device port: a clock with timers, and a log function.
 */

/** A cancellable wait. */
export interface Delay {
  readonly promise: Promise<void>;
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the Unix epoch (the device's clock; signed into its reports). */
  now(): number;
  /** Resolves after `ms` of this clock's time. */
  delay(ms: number): Delay;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Structured log line: never payloads, keys or images; ids, codes, offsets and sizes only. */
export type LogFn = (level: LogLevel, message: string, fields?: Readonly<Record<string, unknown>>) => void;

export const silentLog: LogFn = () => {};

interface TimerGlobals {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * The platform clock: Date.now and the setTimeout every JavaScript runtime has (read from
 * globalThis, since the agent's types include no platform library).
 */
export function systemClock(): Clock {
  const timers = globalThis as unknown as TimerGlobals;
  return Object.freeze({
    now: () => Date.now(),
    delay(ms: number): Delay {
      let handle: unknown;
      const promise = new Promise<void>((resolve) => {
        handle = timers.setTimeout(resolve, ms);
      });
      return { promise, cancel: () => timers.clearTimeout(handle) };
    },
  });
}
