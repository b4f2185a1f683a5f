/**
 * `medgate sim`: the gateway CLI spawns the built simulator (it must not import it, DESIGN §6),
 * so its option list mirrors device-sim's; usage mistakes exit 2 with one line; `--help` and
 * the exit code go through the built CLI (dist/, made by `tsc -b`, which `npm test` runs first).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runSim } from '../../device-sim/cli.js';
import { SIM_OPTIONS } from '../../device-sim/options.js';
import { parseCommandArgs } from '../../gateway/cli/command.js';
import { SIM_COMMAND_OPTIONS, simArgv, simCommand } from '../../gateway/cli/commands/sim.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = 'dist/gateway/cli/bin.js';

async function runCaptured(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runSim(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

describe('medgate sim', () => {
  it("declares exactly device-sim's options (name, type, repeatable, value, description)", () => {
    const { help: _help, ...own } = SIM_OPTIONS;
    const shape = (
      o: Record<string, { type: string; multiple?: boolean; value?: string; description: string }>,
    ) =>
      Object.entries(o).map(([name, s]) => [name, s.type, s.multiple === true, s.value ?? '', s.description]);
    expect(shape(SIM_COMMAND_OPTIONS)).toEqual(shape(own));
  });

  it('passes the parsed arguments on unchanged', () => {
    const argv = [
      '--data',
      '/d',
      '--devices',
      '5',
      '--profile',
      'wearable',
      '--profile',
      'glucose',
      '--json',
      '--attack',
      'replay',
    ];
    const again = simArgv(parseCommandArgs(simCommand, argv));
    expect(parseCommandArgs(simCommand, again).values).toEqual(parseCommandArgs(simCommand, argv).values);
    expect(again.filter((a) => a === '--profile')).toHaveLength(2);
  });

  it.each([
    [['--chain', 'c', '--devices', 'many'], '--devices must be an integer'],
    [['--chain', 'c', '--attack', 'teleport'], "unknown mode 'teleport'"],
    [['--chain', 'c', '--profile', 'toaster'], "unknown profile 'toaster'"],
    [['--devices', '2'], 'give --data DIR'],
    [['--chain', 'c', '--mqtt', 'http://x'], '--mqtt must be'],
    [['--chain', 'c', '--bogus'], "Unknown option '--bogus'"],
  ])('refuses %j with one line and exit 2', async (argv, message) => {
    const { code, out, err } = await runCaptured(...argv);
    expect(code).toBe(2);
    expect(out).toEqual([]);
    expect(err).toHaveLength(1);
    expect(err[0]).toContain(message);
  });

  it('a coded failure (no vendor key for a new device) is one line and exit 1', async () => {
    const { code, err } = await runCaptured(
      '--chain',
      'c',
      '--devices',
      '1',
      '--readings',
      '1',
      '--mqtt',
      'mqtt://127.0.0.1:1',
    );
    expect(code).toBe(1);
    expect(err.at(-1)).toMatch(/^medgate sim: MG_ERR_SIM_NO_VENDOR_KEY: /);
  });

  describe('through the built CLI', () => {
    it('is built', () => {
      expect(existsSync(`${ROOT}${BIN}`), `${BIN}: run 'npx tsc -b' first`).toBe(true);
      expect(existsSync(`${ROOT}dist/device-sim/main.js`)).toBe(true);
    });

    it('medgate sim --help lists every option', () => {
      const r = spawnSync(process.execPath, [BIN, 'sim', '--help'], { cwd: ROOT, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('usage: medgate sim [options]');
      for (const name of Object.keys(SIM_COMMAND_OPTIONS)) expect(r.stdout).toContain(`--${name}`);
    });

    it('medgate sim runs the simulator process and returns its exit code', () => {
      const r = spawnSync(process.execPath, [BIN, 'sim', '--chain', 'c', '--devices', 'many'], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('medgate sim: --devices must be an integer');
      const listed = spawnSync(process.execPath, [BIN, '--help'], { cwd: ROOT, encoding: 'utf8' });
      expect(listed.stdout).toMatch(/^ {2}sim +run a simulated device fleet/m);
    });
  });
});
