#!/usr/bin/env node
/** The `medgate` executable (package.json `bin`); all logic is in main.ts so tests can call it. */
import { main } from './main.js';

let finished = false;

// If the event loop drains while a command is still awaiting something, Node would exit 0
// with the work undone. That is a bug, and it must never look like success.
process.on('beforeExit', () => {
  if (!finished) {
    process.stderr.write('medgate: internal error: stopped before the command finished\n');
    process.exitCode = 1;
  }
});

main(process.argv.slice(2)).then(
  (code) => {
    finished = true;
    process.exitCode = code;
  },
  (err: unknown) => {
    finished = true;
    process.stderr.write(`medgate: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
