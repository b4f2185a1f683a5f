/** Every `medgate` subcommand, in the order `medgate --help` lists them. */
import type { Command } from './command.js';

export const commands: readonly Command[] = [];
