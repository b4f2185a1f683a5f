/** `medgate demo`: the whole story so far, in plain numbered steps (DESIGN §7). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fleetStory } from '../../demo/fleet-story.js';
import { gatewayStory } from '../../demo/gateway-story.js';
import { auditStory, ledgerStory } from '../../demo/ledger-story.js';
import { createNarrator } from '../../demo/narrator.js';
import { protocolStory } from '../../demo/protocol-story.js';
import { type Command, ExitCode, stringOption } from '../command.js';

export const demoCommand: Command = {
  path: ['demo'],
  summary: 'run the medgate story end to end on this machine and check every step',
  options: {
    data: {
      type: 'string',
      value: 'DIR',
      description:
        'keep the demo ledger in DIR (must be empty or absent); default: a temporary directory, removed after',
    },
  },
  details: 'Exits 0 only when every step did what it says.',
  async run(args, io) {
    const kept = stringOption(args, 'data');
    const dir = kept ?? (await mkdtemp(join(tmpdir(), 'medgate-demo-')));
    const narrator = createNarrator(io.out);
    try {
      io.out('medgate demo');
      io.out('');
      io.out('Part 1: the v1 protocol core');
      await protocolStory(narrator);
      io.out('');
      io.out(`Part 2: the ledger (data directory ${dir})`);
      await ledgerStory(narrator, dir);
      io.out('');
      io.out('Part 3: the gateway (MQTT, HTTP API, clinician feed)');
      await gatewayStory(narrator, dir);
      io.out('');
      io.out('Part 4: a fleet and a firmware update');
      await fleetStory(narrator, dir);
      io.out('');
      io.out('Part 5: the audit');
      await auditStory(narrator, dir);
      return narrator.finish() === 0 ? ExitCode.OK : ExitCode.FAILED;
    } finally {
      if (kept === undefined) await rm(dir, { recursive: true, force: true });
    }
  },
};
