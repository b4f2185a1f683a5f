/**
 * DESIGN §6: the device agent (`firmware-ts/agent`) imports only `firmware-ts/protocol` (and
 * @noble/*, which protocol may use too) and no platform module, so it runs on a device port.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const agent = join(root, 'firmware-ts/agent');
const protocol = join(root, 'firmware-ts/protocol');

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'([^']+)'/g)].map(
    (m) => m[1] as string,
  );
}

describe('agent purity', () => {
  const files = readdirSync(agent).filter((f) => f.endsWith('.ts'));

  it('has sources to check', () => {
    expect(files).toContain('agent.ts');
  });

  it.each(files)('%s imports only protocol, itself and @noble/*', (name) => {
    for (const spec of imports(join(agent, name))) {
      const target = resolve(agent, spec);
      const allowed =
        (spec.startsWith('./') && target.startsWith(agent)) ||
        (spec.startsWith('../') && target.startsWith(protocol) && !target.endsWith('ed25519/node.js')) ||
        spec.startsWith('@noble/');
      expect(allowed, `${name} imports ${spec}`).toBe(true);
    }
  });
});
