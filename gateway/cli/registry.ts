/** Every `medgate` subcommand, in the order `medgate --help` lists them. */
import type { Command } from './command.js';
import { demoCommand } from './commands/demo.js';
import { initCommand } from './commands/init.js';
import { keygenCommand } from './commands/keygen.js';
import { ledgerCommands } from './commands/ledger.js';
import { receiptCommands } from './commands/receipt.js';

export const commands: readonly Command[] = [
  demoCommand,
  initCommand,
  keygenCommand,
  ...ledgerCommands,
  ...receiptCommands,
];
