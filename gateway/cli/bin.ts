#!/usr/bin/env node
/** The `medgate` executable (package.json `bin`); all logic is in main.ts so tests can call it. */
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`medgate: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
