/** `medgate init`: the authority key and the genesis block of a new ledger (DESIGN §2, §7). */
import { join } from 'node:path';
import { toHex } from '../../../firmware-ts/protocol/bytes.js';
import { DEMO_INDEX_FILE, DEMO_KEYS_DIR, initLedger } from '../../ledger/init.js';
import { AUTHORITY_KEY_FILE, AUTHORITY_PUB_FILE } from '../../ledger/ledger.js';
import { type Command, ExitCode, stringOption, UsageError } from '../command.js';
import { DATA_OPTION, JSON_OPTION, maxPositionals } from './common.js';

export const initCommand: Command = {
  path: ['init'],
  summary: 'create a ledger: authority key and genesis block',
  options: {
    data: DATA_OPTION,
    config: { type: 'string', value: 'FILE', description: 'genesis config JSON (docs/ledger.md)' },
    demo: { type: 'boolean', description: 'generate demo keys for every role into DIR/demo-keys/' },
    chain: { type: 'string', value: 'ID', description: 'chain id (overrides the config file)' },
    json: JSON_OPTION,
  },
  details:
    'Writes DIR/authority.key (PKCS#8 PEM, mode 0600; back it up) and DIR/authority.pub, then the\n' +
    'genesis block. Give --config or --demo. Refuses a directory that already holds a ledger.',
  async run(args, io) {
    maxPositionals(args, 0);
    const dir = stringOption(args, 'data', true);
    const configFile = stringOption(args, 'config');
    const chain = stringOption(args, 'chain');
    const demo = args.values.demo === true;
    if (configFile === undefined && !demo) throw new UsageError('give --config FILE or --demo');
    if (configFile !== undefined && demo) throw new UsageError('--config and --demo exclude each other');
    const result = await initLedger({
      dir,
      demo,
      ...(configFile === undefined ? {} : { configFile }),
      ...(chain === undefined ? {} : { chain }),
    });
    const summary = {
      dir: result.dir,
      chain: result.chain,
      authorityKey: join(result.dir, AUTHORITY_KEY_FILE),
      authorityPub: join(result.dir, AUTHORITY_PUB_FILE),
      authorityKid: toHex(result.authority.kid),
      genesis: toHex(result.genesis.hash),
      ...(result.demoKeys === undefined
        ? {}
        : { demoKeys: join(result.dir, DEMO_KEYS_DIR, DEMO_INDEX_FILE) }),
    };
    if (args.values.json) {
      io.out(JSON.stringify(summary));
      return ExitCode.OK;
    }
    io.out(`initialised ledger '${summary.chain}' in ${summary.dir}`);
    io.out(`  authority key ${summary.authorityKey} (kid ${summary.authorityKid}); keep a backup`);
    io.out(`  genesis block ${summary.genesis}`);
    if (result.demoKeys !== undefined) {
      const counts = new Map<string, number>();
      for (const k of result.demoKeys.keys) counts.set(k.role, (counts.get(k.role) ?? 0) + 1);
      const roles = [...counts].map(([role, n]) => `${n} ${role}`).join(', ');
      io.out(
        `  demo keys (${roles}; ${result.demoKeys.threshold} of the admins approve) in ${summary.demoKeys}`,
      );
    }
    return ExitCode.OK;
  },
};
