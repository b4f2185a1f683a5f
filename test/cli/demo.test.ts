/**
 * `npm run demo` is the first thing a new user runs (DESIGN §7): it must finish every step
 * and exit 0, and exit non-zero when a step fails or the process stops before the end.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { check, createNarrator } from '../../gateway/demo/narrator.js';

const ROOT = resolve(import.meta.dirname, '../..');

describe('medgate demo', () => {
  it('runs every step as a child process and exits 0', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'gateway/cli/bin.ts', 'demo'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 90_000,
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const steps = run.stdout.match(/^\s*\d+\. .*\[ok, \d+ ms\]$/gm) ?? [];
    expect(steps.length).toBeGreaterThanOrEqual(30);
    // DESIGN §7: the fleet enrols, the rollout is approved 2 of 3, one device rolls back,
    // and a receipt of a random reading verifies offline.
    expect(run.stdout).toMatch(/ALERT Oxygen saturation low/); // the clinician feed shows the alert
    expect(run.stdout).toMatch(/\(replay\)\s+→ MG_ERR_REPLAY/); // an attack refused by code
    expect(run.stdout).toMatch(/self-enrolled \(model wearable-v1/);
    expect(run.stdout).toMatch(/authorised, active/);
    expect(run.stdout).toMatch(/: rolledBack \(MG_ERR_UPDATE_SELF_TEST_FAILED\)/);
    expect(run.stdout.match(/: confirmed$/gm)?.length).toBe(2);
    expect(run.stdout).toMatch(/receipt valid: leaf \d+/);
    expect(run.stdout).not.toContain('[FAILED]');
    expect(run.stdout).toMatch(new RegExp(`All ${steps.length} steps did what they say\\.`));
  }, 120_000);

  it('counts a failed step and returns exit code 1', async () => {
    const lines: string[] = [];
    const narrator = createNarrator((line) => lines.push(line));
    expect(await narrator.step('holds', () => ['fine'])).toBe(true);
    expect(await narrator.step('breaks', () => check(false, 'the thing') as never)).toBe(false);
    expect(narrator.finish()).toBe(1);
    expect(lines.join('\n')).toContain('check failed: the thing');
    expect(lines.at(-1)).toBe('1 of 2 steps failed.');
  });

  it('exits non-zero, not 0, when the event loop drains before a command finishes', () => {
    // A command awaiting a promise that nothing will ever settle.
    const script = `
      import { commands } from './gateway/cli/registry.ts';
      commands[0].run = () => new Promise(() => {});
      process.argv.splice(1, 0, 'medgate');
      await import('./gateway/cli/bin.ts');
    `;
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script, 'demo'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(run.stderr).toContain('stopped before the command finished');
    expect(run.status).toBe(1);
  });
});
