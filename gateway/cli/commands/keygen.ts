/** `medgate keygen`: an ed25519 key pair as the PEM files openssl reads (DESIGN §7). */
import { toHex } from '../../../firmware-ts/protocol/bytes.js';
import { nodeBackend } from '../../../firmware-ts/protocol/ed25519/node.js';
import { kidOf } from '../../../firmware-ts/protocol/kid.js';
import { writeKeyPair } from '../../ledger/init.js';
import { type Command, ExitCode, stringOption, UsageError } from '../command.js';
import { JSON_OPTION, maxPositionals } from './common.js';

export const keygenCommand: Command = {
  path: ['keygen'],
  summary: 'write a new ed25519 key pair (PREFIX.key PKCS#8, PREFIX.pub SPKI)',
  options: {
    out: { type: 'string', value: 'PREFIX', description: 'path prefix of the two files' },
    json: JSON_OPTION,
  },
  details:
    'The private key file is created with mode 0600 and never overwritten. Both files are PEM,\n' +
    "readable by 'openssl pkey -in PREFIX.key' and 'openssl pkey -pubin -in PREFIX.pub'.",
  async run(args, io) {
    maxPositionals(args, 0);
    const prefix = stringOption(args, 'out', true);
    if (prefix === '') throw new UsageError('--out must not be empty');
    const secret = nodeBackend.generateSecretKey();
    const pub = nodeBackend.publicKey(secret);
    try {
      await writeKeyPair(prefix, { secret, pub });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST')
        throw new UsageError(`${prefix}.key or .pub already exists`);
      throw err;
    }
    const result = {
      key: `${prefix}.key`,
      pub: `${prefix}.pub`,
      publicKey: toHex(pub),
      kid: toHex(kidOf(pub)),
    };
    if (args.values.json) io.out(JSON.stringify(result));
    else io.out(`wrote ${result.key} and ${result.pub} (kid ${result.kid})`);
    return ExitCode.OK;
  },
};
