/**
 * Numbered steps in plain words for `medgate demo`. A step passes only when its check held;
 * the demo exits 0 only when every step passed (DESIGN §7).
 */
export interface Narrator {
  /** Runs one numbered step; `body` returns the lines to print under it, or throws. */
  step(title: string, body: () => Promise<readonly string[]> | readonly string[]): Promise<boolean>;
  /** Prints the closing line and returns the exit code. */
  finish(): number;
}

export function createNarrator(out: (line: string) => void): Narrator {
  let n = 0;
  let failed = 0;
  return {
    async step(title, body) {
      n++;
      const started = performance.now();
      try {
        const lines = await body();
        const ms = Math.round(performance.now() - started);
        out(`${String(n).padStart(2)}. ${title}  [ok, ${ms} ms]`);
        for (const line of lines) out(`      ${line}`);
        return true;
      } catch (err) {
        failed++;
        const code = (err as { code?: string }).code;
        out(`${String(n).padStart(2)}. ${title}  [FAILED]`);
        out(`      ${code ? `${code}: ` : ''}${(err as Error).message}`);
        return false;
      }
    },
    finish() {
      out('');
      out(failed === 0 ? `All ${n} steps did what they say.` : `${failed} of ${n} steps failed.`);
      return failed === 0 ? 0 : 1;
    },
  };
}

/** Throws when `condition` is false: a demo step's check. */
export function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`check failed: ${what}`);
}
