/**
 * Ledgers for tests: a genesis from the state harness (3 admins, threshold 2, vendor `acme`)
 * written into a fresh temporary directory with a known authority key, a clock the test moves,
 * signed readings, and transaction generators with rising nonces.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chainAad, signCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { encodeReading } from '../../firmware-ts/protocol/decode/reading.js';
import { signTx } from '../../firmware-ts/protocol/tx/sign.js';
import type { EnvelopeType, TxBodies } from '../../firmware-ts/protocol/tx/types.js';
import type { GenesisConfig } from '../../gateway/ledger/genesis.js';
import { writeGenesis } from '../../gateway/ledger/init.js';
import { Ledger, type LedgerOptions } from '../../gateway/ledger/ledger.js';
import type { LeafInput } from '../../gateway/ledger/sequencer.js';
import { CHAIN, keyFor, T0, testGenesis } from './state-harness.js';

export { CHAIN, keyFor, T0 };

export const AUTHORITY = keyFor('authority');

/** Temporary directories made by `tempDir`, removed by `removeTempDirs` (afterAll/afterEach). */
const made: string[] = [];

export async function tempDir(prefix = 'medgate-ledger-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true });
}

/** A clock the test moves by hand; starts at T0. */
export class TestClock {
  t = T0;
  readonly now = (): number => this.t;
  advance(ms = 1000): number {
    this.t += ms;
    return this.t;
  }
}

/** Writes the test genesis into a new directory and returns the directory. */
export async function genesisDir(config: GenesisConfig = testGenesis(), t = T0): Promise<string> {
  const dir = await tempDir();
  await writeGenesis(dir, config, AUTHORITY.signer, t);
  return dir;
}

export async function openTestLedger(
  dir: string,
  clock: TestClock,
  options: LedgerOptions = {},
): Promise<Ledger> {
  return Ledger.open(dir, {
    authoritySecretKey: AUTHORITY.secret,
    blockIntervalMs: 0,
    now: clock.now,
    readingLog: { maxDelayMs: 0 },
    ...options,
  });
}

/** A reading signed by `dev`'s test key, as a device would publish it. */
export function signedReading(dev: string, seq: number, t = T0 + seq): LeafInput {
  const payload = encodeReading({ dev, seq, t, obs: [{ code: '8867-4', v: 60 + (seq % 40), u: '/min' }] });
  return { leafData: signCoseSign1(payload, keyFor(dev).signer, chainAad(CHAIN)), deviceId: dev, seq };
}

/** Transaction generators: each call signs the next transaction with a rising nonce. */
export class TxFactory {
  #nonce = new Map<string, number>();

  constructor(readonly chain = CHAIN) {}

  #next(actor: string): number {
    const n = (this.#nonce.get(actor) ?? 0) + 1;
    this.#nonce.set(actor, n);
    return n;
  }

  /** Any transaction by `actor` (a key from keyFor), with the actor's next nonce. */
  sign<K extends EnvelopeType>(actor: string, type: K, body: TxBodies[K], t = T0): Uint8Array {
    const tx = { type, chain: this.chain, actor, nonce: this.#next(actor), t, body };
    return signTx(tx as Parameters<typeof signTx>[0], keyFor(actor).signer);
  }

  /** `device.enrol` of `dev` (model m1) by admin:a, signed at `t`. */
  enrol(dev: string, t = T0, admin = 'admin:a'): Uint8Array {
    return signTx(
      {
        type: 'device.enrol',
        chain: this.chain,
        actor: admin,
        nonce: this.#next(admin),
        t,
        body: { dev, pub: keyFor(dev).pub, model: 'm1' },
      },
      keyFor(admin).signer,
    );
  }

  /** `device.revoke` of `dev` by admin:a. */
  revoke(dev: string, t = T0, admin = 'admin:a'): Uint8Array {
    return signTx(
      { type: 'device.revoke', chain: this.chain, actor: admin, nonce: this.#next(admin), t, body: { dev } },
      keyFor(admin).signer,
    );
  }
}
