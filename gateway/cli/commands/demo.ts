/** `medgate demo`: the whole story so far, in plain numbered steps (DESIGN §7). */
import { createNarrator } from '../../demo/narrator.js';
import { protocolStory } from '../../demo/protocol-story.js';
import { type Command, ExitCode } from '../command.js';

export const demoCommand: Command = {
  path: ['demo'],
  summary: 'run the medgate story end to end on this machine and check every step',
  options: {},
  details: 'Exits 0 only when every step did what it says.',
  async run(_args, io) {
    const narrator = createNarrator(io.out);
    io.out('medgate demo: the v1 protocol core, step by step');
    io.out('');
    await protocolStory(narrator);
    return narrator.finish() === 0 ? ExitCode.OK : ExitCode.FAILED;
  },
};
