/**
 * The README's security model names, for each attack, the tests that show it is refused. Those
 * files must exist (a renamed or deleted test must not leave a claim behind), and every error
 * code the README or docs/protocol.md names must be a documented code.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
const protocol = readFileSync(resolve(root, 'docs/protocol.md'), 'utf8');
const errors = readFileSync(resolve(root, 'docs/errors.md'), 'utf8');

/** The `## Security model` section, up to the next `## `. */
function section(text: string, title: string): string {
  const start = text.indexOf(`\n## ${title}\n`);
  if (start < 0) return '';
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

const security = section(readme, 'Security model');
const rows = security.split('\n').filter((line) => /^\| [^-]/.test(line) && !line.startsWith('| attack |'));
const testPaths = [...new Set([...readme.matchAll(/`(test\/[\w./-]+\.ts)`/g)].map((m) => m[1] as string))];
/** Exact codes only; `MG_ERR_CBOR_*` names a family. */
const codesIn = (text: string) => [
  ...new Set([...text.matchAll(/`(MG_ERR_[A-Z0-9_]+)`/g)].map((m) => m[1] as string)),
];

describe('README security model', () => {
  it('has a table with a test for every attack', () => {
    expect(rows.length).toBeGreaterThanOrEqual(20);
    for (const row of rows) expect(row, row.slice(0, 60)).toMatch(/`test\/[\w./-]+\.test\.ts`/);
  });

  it.each(testPaths)('names %s, which exists', (path) => {
    expect(existsSync(resolve(root, path))).toBe(true);
  });

  it.each([
    'spoofing',
    'forged reading signature',
    'replay of a reading',
    'duplicate',
    'cross-device spoofing',
    'wrong chain',
    'clock skew',
    'oversize',
    'malformed',
    'unauthorised subscribe',
    'revoked key',
    'enrolment without a valid attestation',
    // DESIGN §5, each refused with a coded error.
    'arbitrary software',
    'rollback',
    'fast-forward',
    'indefinite freeze',
    'endless data',
    'slow retrieval',
    'mix-and-match',
    'wrong model',
    'approvals below threshold',
    'image swapped after the check',
    'trailing data',
    'gateway compromise',
  ])('covers %s', (attack) => {
    expect(rows.some((row) => row.split('|')[1]?.includes(attack))).toBe(true);
  });

  it.each(codesIn(readme + protocol))('names %s, a documented error code', (code) => {
    expect(errors).toContain(`| \`${code}\` |`);
  });
});
