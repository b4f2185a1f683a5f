/**
 * Child of ledger-kill.test.ts: opens the ledger in DIR (made by `initLedger --demo`) as the
 * gateway would, then appends leaves, submits transactions (device enrolments signed by the
 * demo admin alice) and cuts blocks on a short interval, all at once, until it is killed.
 * Prints `ready <logSize> <height>` once open, then `leaf <index> <hex leaf hash>` for every
 * append that resolved and `tx <height> <index> <hex id>` for every submission that resolved:
 * exactly what a caller may rely on (acknowledged = durable).
 *
 * Usage: node --import tsx test/faults/ledger-kill-child.ts DIR
 */
import { writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toHex, utf8 } from '../../firmware-ts/protocol/bytes.js';
import { signerFromSecretKey } from '../../firmware-ts/protocol/cose.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { decodePrivateKeyPem } from '../../firmware-ts/protocol/pem.js';
import { signTx } from '../../firmware-ts/protocol/tx/sign.js';
import { Ledger } from '../../gateway/ledger/ledger.js';

const dir = process.argv[2];
if (dir === undefined) {
  process.stderr.write('usage: ledger-kill-child.ts DIR\n');
  process.exit(2);
}

const ledger = await Ledger.open(dir, { blockIntervalMs: 10, maxTxPerBlock: 4 });
const admin = signerFromSecretKey(
  decodePrivateKeyPem(await readFile(join(dir, 'demo-keys', 'admin-alice.key'), 'utf8')),
  nodeBackend,
);

let lines: string[] = [];
const flush = () => {
  if (lines.length === 0) return;
  const text = lines.join('');
  lines = [];
  // Synchronous on a pipe: once it returns, the parent can read it even if we die next.
  writeSync(1, text);
};
const say = (line: string) => {
  if (lines.length === 0) setImmediate(flush);
  lines.push(line);
};
writeSync(1, `ready ${ledger.log.size} ${ledger.tip.header.height}\n`);

// Seqs continue from the durable size: a leaf written but lost in a kill never collides.
let seq = ledger.log.size;
async function leafWorker(): Promise<never> {
  for (;;) {
    const s = seq++;
    const deviceId = `dev-${s % 31}`;
    const { index, leafHash } = await ledger.appendReading({
      leafData: utf8(`reading ${deviceId} ${s} ${'x'.repeat(s % 150)}`),
      deviceId,
      seq: s,
    });
    say(`leaf ${index} ${toHex(leafHash)}\n`);
  }
}

// Nonces rise from the last one on the chain; a transaction lost in a kill leaves a gap (allowed).
let nonce = ledger.state.nonces.get('admin:alice') ?? 0;
let enrolled = 0;
async function txWorker(): Promise<never> {
  for (;;) {
    const dev = `kill-${process.pid}-${enrolled++}`;
    const bytes = signTx(
      {
        type: 'device.enrol',
        chain: ledger.chain,
        actor: 'admin:alice',
        nonce: ++nonce,
        t: Date.now(),
        body: { dev, pub: nodeBackend.publicKey(nodeBackend.generateSecretKey()), model: 'wearable-v1' },
      },
      admin,
    );
    const { height, index, id } = await ledger.submitTx(bytes);
    say(`tx ${height} ${index} ${toHex(id)}\n`);
  }
}

await Promise.all([...Array.from({ length: 64 }, leafWorker), ...Array.from({ length: 3 }, txWorker)]);
