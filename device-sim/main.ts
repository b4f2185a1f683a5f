#!/usr/bin/env node
/**
 * The simulator as a program (what `medgate sim` spawns): runSim with the process's streams,
 * a progress line when stderr is a terminal, and SIGINT/SIGTERM for a graceful stop (a second
 * signal exits at once).
 */
import { runSim } from './cli.js';

const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (controller.signal.aborted) process.exit(1);
    controller.abort();
  });
}

const stderrIsTty = process.stderr.isTTY === true;

runSim(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  ...(stderrIsTty ? { progress: (text: string) => process.stderr.write(`\r\x1b[K${text}`) } : {}),
  signal: controller.signal,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`medgate sim: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
