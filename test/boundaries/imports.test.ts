/**
 * DESIGN §6: `firmware-ts/protocol` is pure. It imports only @noble/*, the CBOR library and
 * itself; the one Node-only file is the node:crypto ed25519 backend. Project references
 * cannot see package imports, so this test reads the sources.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(path));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'([^']+)'/g)].map(
    (m) => m[1] as string,
  );
}

const NODE_ONLY = new Set(['ed25519/node.ts']);

describe('protocol purity', () => {
  const dir = join(root, 'firmware-ts/protocol');
  const files = sources(dir);

  it('has sources to check', () => {
    expect(files.length).toBeGreaterThan(3);
  });

  it.each(files.map((f) => [relative(dir, f), f]))(
    '%s imports only @noble/*, cborg and protocol',
    (name, file) => {
      for (const spec of imports(file)) {
        const allowed =
          spec.startsWith('./') ||
          (spec.startsWith('../') && resolve(dir, name, '..', spec).startsWith(dir)) ||
          spec.startsWith('@noble/') ||
          spec === 'cborg' ||
          (NODE_ONLY.has(name) && spec === 'node:crypto');
        expect(allowed, `${name} imports ${spec}`).toBe(true);
      }
    },
  );
});
