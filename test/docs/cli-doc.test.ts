/**
 * docs/cli.md is the `--help` of every registered command (regenerate with
 * `npx tsx test/docs/cli-doc.ts --write`), and every command keeps the CLI conventions of
 * DESIGN §7: `--help`, shared flags with one form, user errors as one line with exit 2 (usage)
 * or 1 (refused), never a stack trace.
 */

import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { helpText } from '../../gateway/cli/command.js';
import { commands } from '../../gateway/cli/registry.js';
import { medgate } from '../support/cli.js';
import { CLI_DOC, cliDoc, flagUsage, README, readmeTable, tableInReadme } from './cli-doc.js';

const doc = readFileSync(CLI_DOC, 'utf8');
const names = commands.map((c) => c.path.join(' '));
const STACK_LINE = /^\s+at .+[:(]/m;

describe('docs/cli.md', () => {
  it('is what cli-doc.ts generates (run `npx tsx test/docs/cli-doc.ts --write` after changing a command)', () => {
    expect(doc).toBe(cliDoc());
  });

  it.each(names)('documents medgate %s: summary row, heading and its --help text', (name) => {
    const command = commands.find((c) => c.path.join(' ') === name)!;
    expect(doc).toContain(`[\`medgate ${name}\`]`);
    expect(doc).toMatch(new RegExp(`^#{2,3} medgate ${name}$`, 'm'));
    expect(doc).toContain(helpText(command));
  });

  it('README.md lists every command (the generated table)', () => {
    expect(tableInReadme(readFileSync(README, 'utf8'))).toBe(readmeTable());
  });

  it('documents the exit codes', () => {
    expect(doc).toMatch(/\| 0 \| success/);
    expect(doc).toMatch(/\| 1 \| a check failed/);
    expect(doc).toMatch(/\| 2 \| bad usage/);
  });
});

describe('medgate command conventions', () => {
  it.each(names)('medgate %s --help prints its help on stdout and exits 0', async (name) => {
    const command = commands.find((c) => c.path.join(' ') === name)!;
    const run = await medgate(...command.path, '--help');
    expect(run.code).toBe(0);
    expect(run.out).toBe(`${helpText(command)}\n`);
    expect(run.err).toBe('');
  });

  it.each(names)('medgate %s refuses an unknown option in one line, exit 2', async (name) => {
    const run = await medgate(...name.split(' '), '--no-such-option');
    expect(run.code).toBe(2);
    expect(run.err).toBe(`medgate ${name}: unknown option '--no-such-option' (see --help)\n`);
    expect(run.out).toBe('');
  });

  it('gives shared flags one form everywhere', () => {
    const flags = flagUsage();
    const forms = (name: string) =>
      (flags.get(name) ?? []).map((u) => `${u.spec.type} ${u.spec.value ?? ''}`);
    expect(forms('data')).toEqual(['string DIR']);
    expect(forms('json')).toEqual(['boolean ']);
    expect(forms('gateway')).toEqual(['string URL']);
    expect(forms('admin-key')).toEqual(['string FILE']);
    expect(forms('authority')).toEqual(['string PUBKEY']);
    for (const c of commands) {
      for (const name of Object.keys(c.options))
        expect(name, c.path.join(' ')).toMatch(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
      expect(Object.keys(c.options), 'help is the framework’s').not.toContain('help');
      expect(
        Object.values(c.options).map((o) => o.short),
        '-h is --help',
      ).not.toContain('h');
    }
  });

  it('lists a group, with exit 0 for --help and 2 without a command', async () => {
    const help = await medgate('ledger', '--help');
    expect(help.code).toBe(0);
    expect(help.out).toContain('medgate ledger verify');
    const bare = await medgate('ledger');
    expect(bare.code).toBe(2);
    expect(bare.err).toMatch(/^medgate: 'ledger' needs a command; one of:\n/);
    const wrong = await medgate('ledger', 'nope');
    expect(wrong.code).toBe(2);
    expect(wrong.err).toMatch(/^medgate: 'ledger nope' is not a command/);
  });

  it('answers `medgate help COMMAND` like `COMMAND --help`', async () => {
    const run = await medgate('help', 'ledger', 'verify');
    expect(run.code).toBe(0);
    expect(run.out).toBe(`${helpText(commands.find((c) => c.path.join(' ') === 'ledger verify')!)}\n`);
  });

  it('refuses an unknown command and a missing value with exit 2', async () => {
    expect(await medgate('no-such-command')).toMatchObject({ code: 2, out: '' });
    const run = await medgate('ledger', 'verify', '--data');
    expect(run).toMatchObject({ code: 2, err: 'medgate ledger verify: --data needs a value (see --help)\n' });
    const flag = await medgate('ledger', 'verify', '--json=yes', '--data', '/nowhere');
    expect(flag.err).toBe('medgate ledger verify: --json takes no value (see --help)\n');
  });

  describe('errors of a running command', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'medgate-cli-doc-'));
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    it('a bad flag value of the gateway configuration is bad usage: MG_ERR_CONFIG, exit 2', async () => {
      const run = await medgate('gateway', '--data', dir, '--mqtt-port', 'abc');
      expect(run.code).toBe(2);
      expect(run.err).toMatch(
        /^medgate gateway: MG_ERR_CONFIG: mqttPort \(from flag --mqtt-port\).*\(see --help\)\n$/,
      );
    });

    it('a refusal of the file system is one line with exit 1, no stack trace', async () => {
      const run = await medgate('keygen', '--out', join(dir, 'missing', 'dir', 'alice'));
      expect(run.code).toBe(1);
      expect(run.err.trimEnd().split('\n')).toHaveLength(1);
      expect(run.err).toMatch(/^medgate keygen: ENOENT/);
      expect(run.err).not.toMatch(STACK_LINE);
    });

    it('a refusal with a code prints the code, exit 1', async () => {
      const file = join(dir, 'not-a-receipt.json');
      await writeFile(file, '-not json');
      const run = await medgate('receipt', 'verify', file, '--authority', '00'.repeat(32));
      expect(run.code, run.err).toBe(1);
      expect(run.err).toMatch(/^medgate receipt verify: MG_ERR_[A-Z_]+: /);
      expect(run.err.trimEnd().split('\n')).toHaveLength(1);
      expect(run.err).not.toMatch(STACK_LINE);
    });
  });
});
