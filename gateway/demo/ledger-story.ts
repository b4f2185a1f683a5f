/**
 * The ledger as a person meets it: genesis with demo keys, an admin enrols a wearable with a
 * signed transaction, its readings are anchored durably in the reading log, blocks carry
 * checkpoints, and a receipt for a random reading and a consistency proof verify offline
 * with the authority's public key alone. Finally `ledger verify` replays everything.
 */
import { randomInt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { verifyConsistencyBundle } from '../../firmware-ts/protocol/checkpoint.js';
import { chainAad, signCoseSign1, signerFromSecretKey } from '../../firmware-ts/protocol/cose.js';
import { encodeReading } from '../../firmware-ts/protocol/decode/reading.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { decodePrivateKeyPem, decodePublicKeyPem } from '../../firmware-ts/protocol/pem.js';
import { decodeReceipt, encodeReceipt, verifyReceipt } from '../../firmware-ts/protocol/receipt.js';
import { signTx } from '../../firmware-ts/protocol/tx/sign.js';
import { receiptCommands } from '../cli/commands/receipt.js';
import { DEMO_INDEX_FILE, DEMO_KEYS_DIR, type DemoKeyEntry, initLedger } from '../ledger/init.js';
import { AUTHORITY_PUB_FILE, Ledger } from '../ledger/ledger.js';
import { deviceOf } from '../ledger/state/queries.js';
import { verifyLedgerDir } from '../ledger/verify.js';
import { runMedgate } from './cli-runner.js';
import { check, type Narrator } from './narrator.js';

const READINGS = 300;

async function keyOf(dir: string, entry: DemoKeyEntry): Promise<Uint8Array> {
  return decodePrivateKeyPem(await readFile(join(dir, DEMO_KEYS_DIR, entry.key), 'utf8'));
}

/** Runs the ledger chapter in `dir` (an empty temporary directory). */
export async function ledgerStory(narrator: Narrator, dir: string): Promise<void> {
  let entries: readonly DemoKeyEntry[] = [];
  let chain = '';
  let ledger: Ledger | undefined;
  let receiptJson = '';
  const find = (role: string, id?: string): DemoKeyEntry => {
    const e = entries.find((k) => k.role === role && (id === undefined || k.id === id));
    if (!e) throw new Error(`no demo key for ${role} ${id ?? ''}`);
    return e;
  };

  try {
    await narrator.step('Genesis: a new ledger with demo keys for every role.', async () => {
      const result = await initLedger({ dir, demo: true });
      entries = result.demoKeys?.keys ?? [];
      chain = result.chain;
      const admins = entries.filter((k) => k.role === 'admin').map((k) => k.id);
      return [
        `chain "${chain}", authority kid ${toHex(result.authority.kid)}`,
        `admins ${admins.join(', ')} (governance ${result.config.threshold} of ${admins.length}); vendor ${find('vendor').id}; clinician ${find('clinician').id}`,
        `keys in ${join(dir, DEMO_KEYS_DIR, DEMO_INDEX_FILE)}`,
      ];
    });

    const device = find('device', 'wearable-001');
    const deviceKey = await keyOf(dir, device);
    const devicePub = nodeBackend.publicKey(deviceKey);

    await narrator.step(
      'An admin enrols wearable-001 with a transaction signed by her own key.',
      async () => {
        ledger = await Ledger.open(dir, { blockIntervalMs: 200 });
        const admin = find('admin', 'alice');
        const adminSigner = signerFromSecretKey(await keyOf(dir, admin), nodeBackend);
        const tx = signTx(
          {
            type: 'device.enrol',
            chain,
            actor: `admin:${admin.id}`,
            nonce: 1,
            t: Date.now(),
            body: { dev: device.id, pub: devicePub, model: device.model ?? 'wearable-v1' },
          },
          adminSigner,
        );
        const position = await ledger.submitTx(tx);
        const record = deviceOf(ledger.state, device.id);
        check(record?.status === 'active', 'device is active on the ledger');
        return [`included in block ${position.height}; status ${record?.status}, model ${record?.model}`];
      },
    );

    await narrator.step(
      `Its ${READINGS} signed readings are anchored: each acknowledged only once on disk.`,
      async () => {
        const open = ledger as Ledger;
        const signer = signerFromSecretKey(deviceKey, nodeBackend);
        const aad = chainAad(chain);
        const t0 = Date.now();
        const appends = [];
        for (let seq = 1; seq <= READINGS; seq++) {
          const reading = {
            dev: device.id,
            seq,
            t: t0 + seq,
            obs: [{ code: '8867-4', v: 60 + (seq % 30), u: '/min' }],
          };
          appends.push(
            open.appendReading({
              leafData: signCoseSign1(encodeReading(reading), signer, aad),
              deviceId: device.id,
              seq,
            }),
          );
        }
        const positions = await Promise.all(appends);
        check(positions.length === READINGS && open.log.size >= READINGS, 'every append resolved');
        const block = await open.cutBlock();
        return [
          `${positions.length} leaves durable; log size ${open.log.size}`,
          `block ${block?.header.height ?? open.head.block.header.height} signs the checkpoint (size ${open.checkpoint().size}, root ${toHex(open.checkpoint().root).slice(0, 16)}…)`,
        ];
      },
    );

    await narrator.step(
      'A receipt for a random reading verifies offline, with the authority key alone.',
      async () => {
        const open = ledger as Ledger;
        const index = Math.floor(Math.random() * READINGS);
        const receipt = await open.receipt(index);
        receiptJson = JSON.stringify(encodeReceipt(receipt));
        const authority = decodePublicKeyPem(await readFile(join(dir, AUTHORITY_PUB_FILE), 'utf8'));
        // As a clinician's tool would: parse the JSON, check with the portable backend.
        const verified = verifyReceipt(decodeReceipt(JSON.parse(receiptJson)), [authority], nobleBackend);
        return [
          `leaf #${index}: ${receipt.proof.length}-hash inclusion proof in the tree of ${receipt.treeSize}, block ${verified.signedBlock.header.height}`,
          `receipt JSON ${receiptJson.length} bytes; the reading's own signature travels with it`,
        ];
      },
    );

    await narrator.step('The log only grew: a consistency proof links two signed checkpoints.', async () => {
      const open = ledger as Ledger;
      const first = open.checkpoint().size;
      for (let seq = READINGS + 1; seq <= READINGS + 50; seq++) {
        const reading = { dev: device.id, seq, t: Date.now(), obs: [{ code: '8867-4', v: 70, u: '/min' }] };
        await open.appendReading({
          leafData: signCoseSign1(
            encodeReading(reading),
            signerFromSecretKey(deviceKey, nodeBackend),
            chainAad(chain),
          ),
          deviceId: device.id,
          seq,
        });
      }
      await open.cutBlock();
      const bundle = await open.consistencyProof(first, open.checkpoint().size);
      const authority = decodePublicKeyPem(await readFile(join(dir, AUTHORITY_PUB_FILE), 'utf8'));
      verifyConsistencyBundle(bundle, [authority], nobleBackend);
      return [`checkpoint ${first} → ${open.checkpoint().size}: ${bundle.proof.length} hashes`];
    });

    await narrator.step('The ledger closes cleanly: a last block, then the database.', async () => {
      await (ledger as Ledger).close();
      ledger = undefined;
      return ['the gateway will open the same data directory next'];
    });
  } finally {
    await ledger?.close();
  }
}

/** The auditor's step: `medgate ledger verify` on `dir`, after everything else has run. */
export async function auditStory(narrator: Narrator, dir: string): Promise<void> {
  let leaves = 0;
  await narrator.step(
    'An auditor runs `medgate ledger verify`: the chain replays from genesis.',
    async () => {
      const report = await verifyLedgerDir(dir);
      check(report.ok, `verify: ${report.failure?.code ?? ''} ${report.failure?.message ?? ''}`);
      leaves = report.leaves;
      return [
        `${report.blocks} blocks, ${report.txs} transactions, ${report.leaves} leaves: every signature, rule, link and checkpoint holds`,
      ];
    },
  );

  await narrator.step(
    "A receipt for a random reading is written out and verified offline with the authority's public key.",
    async () => {
      const index = randomInt(leaves);
      const file = join(dir, `receipt-${index}.json`);
      const get = await runMedgate(receiptCommands, [
        'receipt',
        'get',
        '--index',
        String(index),
        '--data',
        dir,
        '--out',
        file,
      ]);
      const verify = await runMedgate(receiptCommands, [
        'receipt',
        'verify',
        file,
        '--authority',
        join(dir, AUTHORITY_PUB_FILE),
      ]);
      check(
        verify.out.some((l) => l.startsWith('receipt valid')),
        'the receipt verifies',
      );
      return [get.line, verify.line, ...verify.out].map((l) => l.replaceAll(dir, '$DATA'));
    },
  );
}
