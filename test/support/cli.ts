/** Runs `medgate` in this process for CLI tests, capturing what it writes. */
import { vi } from 'vitest';
import { main } from '../../gateway/cli/main.js';

export interface Run {
  code: number;
  out: string;
  err: string;
}

/** Runs `medgate ...argv` in this process, capturing stdout and stderr. */
export async function medgate(...argv: string[]): Promise<Run> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err += String(chunk);
    return true;
  });
  try {
    return { code: await main(argv), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}
