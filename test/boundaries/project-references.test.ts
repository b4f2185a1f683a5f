/**
 * DESIGN §6: the layers are TypeScript projects, so a wrong import is a build error, not a
 * convention. This test builds a miniature tree that uses the repository's real tsconfig
 * files and shows that the allowed edges compile and the forbidden ones fail with TS6307
 * ("file is not listed within the file list of project").
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');
const projects = ['firmware-ts/protocol', 'firmware-ts', 'gateway', 'device-sim'];

let work: string;

function write(path: string, text: string): void {
  mkdirSync(dirname(join(work, path)), { recursive: true });
  writeFileSync(join(work, path), text);
}

/** A fresh copy of the tsconfig skeleton with one module per layer. */
function scaffold(name: string, extra: Record<string, string>): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  cpSync(join(root, 'tsconfig.base.json'), join(dir, 'tsconfig.base.json'));
  for (const p of projects) {
    mkdirSync(join(dir, p), { recursive: true });
    cpSync(join(root, p, 'tsconfig.json'), join(dir, p, 'tsconfig.json'));
  }
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ files: [], references: projects.map((p) => ({ path: `./${p}` })) }),
  );
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const files: Record<string, string> = {
    'firmware-ts/protocol/wire.ts': 'export const wire = 1;\n',
    'firmware-ts/agent/agent.ts':
      "import { wire } from '../protocol/wire.js';\nexport const agent = wire + 1;\n",
    'gateway/server.ts':
      "import { wire } from '../firmware-ts/protocol/wire.js';\nexport const server = wire;\n",
    'device-sim/sim.ts':
      "import { agent } from '../firmware-ts/agent/agent.js';\nimport { wire } from '../firmware-ts/protocol/wire.js';\nexport const sim = agent + wire;\n",
    ...extra,
  };
  for (const [path, text] of Object.entries(files)) write(join(name, path), text);
  return dir;
}

async function build(dir: string): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [tsc, '-b', dir], { cwd: dir });
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medgate-boundaries-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('project references enforce DESIGN §6', () => {
  it('allows protocol → agent, protocol → gateway, agent → device-sim', async () => {
    const result = await build(scaffold('allowed', {}));
    expect(result.output).toBe('');
    expect(result.ok).toBe(true);
  });

  // Every forbidden edge at once: one build reports each offending file with TS6307.
  const forbidden: Array<[string, string, string]> = [
    [
      'firmware-ts imports gateway',
      'firmware-ts/agent/bad.ts',
      "import { server } from '../../gateway/server.js';\nexport const bad = server;\n",
    ],
    [
      'gateway imports the device agent',
      'gateway/bad.ts',
      "import { agent } from '../firmware-ts/agent/agent.js';\nexport const bad = agent;\n",
    ],
    [
      'protocol imports the device agent',
      'firmware-ts/protocol/bad-agent.ts',
      "import { agent } from '../agent/agent.js';\nexport const bad = agent;\n",
    ],
    [
      'protocol imports gateway',
      'firmware-ts/protocol/bad-gateway.ts',
      "import { server } from '../../gateway/server.js';\nexport const bad = server;\n",
    ],
    [
      'device-sim imports gateway',
      'device-sim/bad.ts',
      "import { server } from '../gateway/server.js';\nexport const bad = server;\n",
    ],
  ];
  let forbiddenBuild: Promise<{ ok: boolean; output: string }>;

  beforeAll(() => {
    forbiddenBuild = build(
      scaffold('forbidden', Object.fromEntries(forbidden.map(([, path, text]) => [path, text]))),
    );
  });

  it.each(forbidden)('fails the build when %s', async (_name, path) => {
    const result = await forbiddenBuild;
    expect(result.ok).toBe(false);
    const lines = result.output.split('\n').filter((line) => line.startsWith(`${path}(`));
    expect(
      lines.some((line) => line.includes('TS6307')),
      result.output,
    ).toBe(true);
  });
});
