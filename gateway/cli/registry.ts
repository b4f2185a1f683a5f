/** Every `medgate` subcommand, in the order `medgate --help` lists them. */
import type { Command } from './command.js';
import { clinicianCommands } from './commands/clinician.js';
import { demoCommand } from './commands/demo.js';
import { deviceCommands } from './commands/device.js';
import { firmwareCommands } from './commands/firmware.js';
import { gatewayCommand } from './commands/gateway.js';
import { initCommand } from './commands/init.js';
import { keygenCommand } from './commands/keygen.js';
import { ledgerCommands } from './commands/ledger.js';
import { policyCommands } from './commands/policy.js';
import { proposalCommands } from './commands/proposal.js';
import { receiptCommands } from './commands/receipt.js';
import { rolloutCommands } from './commands/rollout.js';
import { simCommand } from './commands/sim.js';

export const commands: readonly Command[] = [
  demoCommand,
  initCommand,
  gatewayCommand,
  simCommand,
  keygenCommand,
  ...ledgerCommands,
  ...receiptCommands,
  ...deviceCommands,
  ...clinicianCommands,
  ...policyCommands,
  ...proposalCommands,
  ...firmwareCommands,
  ...rolloutCommands,
];
