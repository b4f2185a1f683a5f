/**
 * CONVENTIONS "Errors and logs": every stable error code lives in an `errors.ts` of its part
 * and is documented in docs/errors.md. This keeps the table honest in both directions.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

function errorFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'node_modules') out.push(...errorFiles(path));
    else if (entry.name === 'errors.ts') out.push(path);
  }
  return out;
}

const CODE = /'(MG_ERR_[A-Z0-9_]+)'/g;

const defined = new Map<string, string>();
for (const part of ['firmware-ts', 'gateway', 'device-sim']) {
  for (const file of errorFiles(join(root, part))) {
    for (const m of readFileSync(file, 'utf8').matchAll(CODE))
      defined.set(m[1] as string, relative(root, file));
  }
}

const docs = readFileSync(join(root, 'docs/errors.md'), 'utf8');
const documented = new Set(
  [...docs.matchAll(/^\|\s*`(MG_ERR_[A-Z0-9_]+)`\s*\|/gm)].map((m) => m[1] as string),
);

describe('docs/errors.md', () => {
  it('finds the codes of the protocol', () => {
    expect(defined.has('MG_ERR_BAD_SIGNATURE')).toBe(true);
  });

  it.each([...defined])('documents %s (from %s)', (code) => {
    expect(documented.has(code)).toBe(true);
  });

  it('names no code that is not defined', () => {
    expect([...documented].filter((code) => !defined.has(code))).toEqual([]);
  });
});
