/**
 * The ledger (DESIGN §4): one data directory holding the reading log, the chain of signed
 * blocks and the state they establish. `Ledger.open` restores the chain head from the tip
 * pointer and the newest state snapshot (then replays the few blocks after it), opens the
 * reading log, and, unless read-only, starts cutting blocks with the authority key.
 *
 * It is the ledger writer of DESIGN §8 (`Sequencer`): leaves and transactions in, durable
 * positions out. Reads (blocks, receipts, consistency bundles) work on a read-only ledger.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SignedBlock } from '../../firmware-ts/protocol/block.js';
import { equalBytes } from '../../firmware-ts/protocol/bytes.js';
import type { ConsistencyBundle } from '../../firmware-ts/protocol/checkpoint.js';
import { type CoseSigner, signerFromSecretKey } from '../../firmware-ts/protocol/cose.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import type { Ed25519Backend } from '../../firmware-ts/protocol/ed25519/types.js';
import { isMedgateError, ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { kidOf } from '../../firmware-ts/protocol/kid.js';
import { leafHash, MemoryTree } from '../../firmware-ts/protocol/merkle/index.js';
import { decodePrivateKeyPem } from '../../firmware-ts/protocol/pem.js';
import type { Receipt } from '../../firmware-ts/protocol/receipt.js';
import { GatewayErrorCode, MedgateError } from '../errors.js';
import { BlockProducer, type ChainHead, type ProducedBlock } from './block-producer.js';
import { BlockStore } from './blocks.js';
import { type DataDir, type DataDirOptions, openDataDir } from './data-dir.js';
import { decodeGenesisBytes, type GenesisConfig, genesisState } from './genesis.js';
import { ReadingLog, type ReadingLogOptions } from './reading-log.js';
import type { LeafInput, LeafPosition, LogCheckpoint, Sequencer } from './sequencer.js';
import { createStateMachine, type StateMachine } from './state/apply.js';
import { decodeState } from './state/encode.js';
import type { State } from './state/state.js';
import { TxPool, type TxPosition } from './tx-pool.js';

export type { ProducedBlock } from './block-producer.js';
export type { TxPosition } from './tx-pool.js';

/** Files of the data directory next to `ledger/` (DESIGN §7: PEM, PKCS#8 and SPKI). */
export const AUTHORITY_KEY_FILE = 'authority.key';
export const AUTHORITY_PUB_FILE = 'authority.pub';

export const LEDGER_DEFAULTS = Object.freeze({
  blockIntervalMs: 1000,
  maxTxPerBlock: 1000,
  snapshotEvery: 100,
  maxPendingTx: 10_000,
});

export interface LedgerOptions {
  /** ed25519 backend for blocks and transactions. Default: node:crypto. */
  backend?: Ed25519Backend;
  /** No writes: no block production, no transactions, no readings. */
  readOnly?: boolean;
  /** Authority secret key (32 bytes). Default: read DIR/authority.key. */
  authoritySecretKey?: Uint8Array;
  /** Cut a block every this many ms; 0 = only on count, `cutBlock()` and close. Default 1000. */
  blockIntervalMs?: number;
  /** An idle ledger cuts an empty block once its last one is this old (block-producer.ts); 0 = never. */
  heartbeatMs?: number;
  /** Cut at once when this many transactions wait. Default 1000. */
  maxTxPerBlock?: number;
  /** Store a state snapshot every this many blocks. Default 100. */
  snapshotEvery?: number;
  /** Most transactions waiting for a block. Default 10,000. */
  maxPendingTx?: number;
  /** Clock for block times. Default Date.now. */
  now?: () => number;
  readingLog?: ReadingLogOptions;
  dataDir?: DataDirOptions;
  onBlock?: (produced: ProducedBlock) => void;
  /** A timed cut failed. */
  onError?: (error: Error) => void;
}

function positiveInt(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, `${name} must be a positive integer`, {
      field: name,
      got: value,
    });
  }
  return value;
}

function nonNegativeInt(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, `${name} must be an integer >= 0`, {
      field: name,
      got: value,
    });
  }
  return value;
}

export class Ledger implements Sequencer {
  readonly #dataDir: DataDir;
  readonly #store: BlockStore;
  readonly #log: ReadingLog;
  readonly #machine: StateMachine;
  readonly #genesis: GenesisConfig;
  readonly #pool: TxPool | undefined;
  readonly #producer: BlockProducer | undefined;
  readonly #now: () => number;
  /** Head of a read-only ledger (a writer's head lives in its producer). */
  readonly #readHead: ChainHead;
  #closing: Promise<void> | undefined;

  private constructor(parts: {
    dataDir: DataDir;
    store: BlockStore;
    log: ReadingLog;
    machine: StateMachine;
    genesis: GenesisConfig;
    head: ChainHead;
    signer: CoseSigner | undefined;
    options: LedgerOptions;
  }) {
    const { options } = parts;
    this.#dataDir = parts.dataDir;
    this.#store = parts.store;
    this.#log = parts.log;
    this.#machine = parts.machine;
    this.#genesis = parts.genesis;
    this.#readHead = parts.head;
    this.#now = options.now ?? Date.now;
    if (parts.signer !== undefined) {
      this.#pool = new TxPool(
        parts.machine,
        parts.head.state,
        positiveInt(options.maxPendingTx ?? LEDGER_DEFAULTS.maxPendingTx, 'maxPendingTx'),
      );
      const intervalMs = nonNegativeInt(
        options.blockIntervalMs ?? LEDGER_DEFAULTS.blockIntervalMs,
        'blockIntervalMs',
      );
      this.#producer = new BlockProducer(
        {
          store: parts.store,
          log: parts.log,
          pool: this.#pool,
          machine: parts.machine,
          signer: parts.signer,
        },
        parts.head,
        {
          intervalMs,
          heartbeatMs: nonNegativeInt(options.heartbeatMs ?? 0, 'heartbeatMs'),
          maxTxPerBlock: positiveInt(options.maxTxPerBlock ?? LEDGER_DEFAULTS.maxTxPerBlock, 'maxTxPerBlock'),
          snapshotEvery: positiveInt(options.snapshotEvery ?? LEDGER_DEFAULTS.snapshotEvery, 'snapshotEvery'),
          now: this.#now,
          ...(options.onBlock === undefined ? {} : { onBlock: options.onBlock }),
          ...(options.onError === undefined ? {} : { onError: options.onError }),
        },
      );
    }
  }

  /**
   * Opens the ledger in `dir` (created by `initLedger`). Refusals: MG_ERR_DATA_DIR_LOCKED,
   * MG_ERR_LEDGER_NOT_INITIALIZED, MG_ERR_LEDGER_CORRUPT, MG_ERR_AUTHORITY_KEY (writer only).
   */
  static async open(dir: string, options: LedgerOptions = {}): Promise<Ledger> {
    const backend = options.backend ?? nodeBackend;
    const dataDir = await openDataDir(dir, options.dataDir);
    try {
      const store = new BlockStore(dataDir.db);
      const machine = createStateMachine({ backend });
      const { genesis, head } = await loadHead(store, machine);
      const signer = options.readOnly
        ? undefined
        : await authoritySigner(dataDir.path, options.authoritySecretKey, head.state, backend);
      const log = await ReadingLog.open(dataDir, options.readingLog);
      if (head.block.header.log.size > log.size) {
        throw new MedgateError(
          GatewayErrorCode.LEDGER_CORRUPT,
          `block ${head.block.header.height} checkpoints ${head.block.header.log.size} leaves, the log holds ${log.size}`,
        );
      }
      const ledger = new Ledger({ dataDir, store, log, machine, genesis, head, signer, options });
      ledger.#producer?.start();
      return ledger;
    } catch (err) {
      await dataDir.close();
      throw err;
    }
  }

  /** Absolute path of the data directory. */
  get path(): string {
    return this.#dataDir.path;
  }

  get chain(): string {
    return this.#genesis.chain;
  }

  get genesis(): GenesisConfig {
    return this.#genesis;
  }

  /** Authority public keys (from genesis): what blocks are verified with. */
  get authorities(): readonly Uint8Array[] {
    return this.head.state.authorities;
  }

  get readOnly(): boolean {
    return this.#producer === undefined;
  }

  /** The last block and the committed state after it. */
  get head(): ChainHead {
    return this.#producer?.head ?? this.#readHead;
  }

  get tip(): SignedBlock {
    return this.head.block;
  }

  get state(): State {
    return this.head.state;
  }

  get machine(): StateMachine {
    return this.#machine;
  }

  /** The reading log (reads; append through `appendReading`). */
  get log(): ReadingLog {
    return this.#log;
  }

  /** Transactions waiting for the next block. */
  get pendingTxs(): number {
    return this.#pool?.size ?? 0;
  }

  /**
   * Submits a transaction (COSE bytes). Rejects at once with the state machine's code if it
   * does not apply to the state with the waiting transactions; resolves once it is in a
   * durably written block. It is applied again at the cut, with the block's time: a refusal
   * there (for example a proposal that expired meanwhile) rejects the promise.
   */
  submitTx(bytes: Uint8Array): Promise<TxPosition> {
    const refused = this.#writable();
    if (refused !== undefined) return Promise.reject(refused);
    const pool = this.#pool!;
    const producer = this.#producer!;
    const position = pool.add(bytes, producer.speculation());
    producer.txAdded();
    return position;
  }

  /** Appends a verified reading; resolves once its leaf is durable (then it may be acknowledged). */
  appendReading(input: LeafInput): Promise<LeafPosition> {
    const refused = this.#writable();
    if (refused !== undefined) return Promise.reject(refused);
    return this.#log.append(input);
  }

  appendLeaf(input: LeafInput): Promise<LeafPosition> {
    return this.appendReading(input);
  }

  checkpoint(): LogCheckpoint {
    return this.#log.checkpoint();
  }

  /** Cuts a block now; undefined when nothing changed since the last one. */
  cutBlock(): Promise<SignedBlock | undefined> {
    const refused = this.#writable();
    if (refused !== undefined) return Promise.reject(refused);
    return this.#producer!.cut();
  }

  /** The signed block at `height`; MG_ERR_BLOCK_NOT_FOUND beyond the tip. */
  async block(height: number): Promise<SignedBlock> {
    this.#checkHeight(height);
    return height === this.tip.header.height ? this.tip : this.#store.block(height);
  }

  /** The transactions (COSE bytes) of the block at `height`; for genesis, the genesis config. */
  async blockTxs(height: number): Promise<Uint8Array[]> {
    this.#checkHeight(height);
    return this.#store.txs(height);
  }

  /**
   * Proof that a transaction is in the signed block at `height` (DESIGN §5: a device checks
   * that the approvals it is shown are on the ledger): the transaction, its index, the RFC
   * 9162 inclusion proof over the block's txRoot (protocol `verifyTxInclusion`), and the block.
   * `tx` is the index in the block or the transaction's COSE bytes.
   */
  async txProof(
    height: number,
    tx: number | Uint8Array,
  ): Promise<{ tx: Uint8Array; index: number; proof: Uint8Array[]; block: SignedBlock }> {
    const block = await this.block(height);
    const txs = await this.#store.txs(height);
    const index = typeof tx === 'number' ? tx : txs.findIndex((t) => equalBytes(t, tx));
    const bytes = txs[index];
    if (bytes === undefined) {
      throw new MedgateError(GatewayErrorCode.TX_NOT_FOUND, `block ${height} holds no such transaction`, {
        field: 'tx',
        got: typeof tx === 'number' ? tx : undefined,
      });
    }
    const tree = new MemoryTree();
    for (const t of txs) tree.append(leafHash(t));
    return { tx: bytes, index, proof: tree.inclusionProof(index), block };
  }

  /**
   * A receipt for the leaf with this hash (32 bytes) or index: the inclusion proof in the
   * checkpoint of the FIRST block that covers the leaf, that block's signed header, and the
   * reading bytes while they are stored. MG_ERR_LEAF_NOT_FOUND, MG_ERR_LEAF_NOT_CHECKPOINTED.
   */
  async receipt(leaf: Uint8Array | number): Promise<Receipt> {
    const index = typeof leaf === 'number' ? leaf : await this.#log.indexOfLeafHash(leaf);
    if (index === undefined || !Number.isSafeInteger(index) || index < 0 || index >= this.#log.size) {
      throw new MedgateError(GatewayErrorCode.LEAF_NOT_FOUND, 'no such leaf in the reading log', {
        field: typeof leaf === 'number' ? 'index' : 'leafHash',
        got: typeof leaf === 'number' ? leaf : undefined,
      });
    }
    const tip = this.tip;
    if (tip.header.log.size <= index) {
      throw new MedgateError(GatewayErrorCode.LEAF_NOT_CHECKPOINTED, `leaf ${index} is not in a block yet`, {
        got: index,
        want: `< ${tip.header.log.size}`,
      });
    }
    const block = await this.#store.firstBlockWhere(tip.header.height, (b) => b.header.log.size > index);
    if (block === undefined)
      throw new MedgateError(GatewayErrorCode.LEDGER_CORRUPT, 'the tip covers a leaf no block covers');
    const treeSize = block.header.log.size;
    const [proof, stored] = await Promise.all([
      this.#log.inclusionProof(index, treeSize),
      this.#log.leaf(index),
    ]);
    const receipt = {
      chain: this.chain,
      leafIndex: index,
      leafHash: stored.leafHash,
      treeSize,
      proof,
      block: block.bytes,
    };
    return stored.leafData === undefined ? receipt : { ...receipt, reading: stored.leafData };
  }

  /**
   * Consistency proof between the checkpoints of size1 and size2 (0 < size1 <= size2), with
   * the signed blocks that carry them. MG_ERR_NOT_A_CHECKPOINT when a size is no block's.
   */
  async consistencyProof(size1: number, size2: number): Promise<ConsistencyBundle> {
    for (const [name, size] of [
      ['size1', size1],
      ['size2', size2],
    ] as const) {
      if (!Number.isSafeInteger(size) || size < 1) {
        throw new MedgateError(ProtocolErrorCode.MERKLE_BAD_SIZE, `${name} must be a positive integer`, {
          field: name,
          got: size,
        });
      }
    }
    if (size1 > size2) {
      throw new MedgateError(ProtocolErrorCode.MERKLE_BAD_SIZE, 'size1 must not exceed size2', {
        field: 'size1',
        got: size1,
        want: `<= ${size2}`,
      });
    }
    const block1 = await this.checkpointBlock(size1);
    const block2 = await this.checkpointBlock(size2);
    const proof = await this.#log.consistencyProof(size1, size2);
    return { chain: this.chain, size1, size2, proof, block1: block1.bytes, block2: block2.bytes };
  }

  /** The first block whose checkpoint has exactly `size` leaves; MG_ERR_NOT_A_CHECKPOINT otherwise. */
  async checkpointBlock(size: number): Promise<SignedBlock> {
    const tip = this.tip;
    const block = await this.#store.firstBlockWhere(tip.header.height, (b) => b.header.log.size >= size);
    if (block !== undefined && block.header.log.size === size) return block;
    const below =
      block === undefined
        ? tip.header.log.size
        : block.header.height > 0
          ? (await this.#store.block(block.header.height - 1)).header.log.size
          : undefined;
    const nearest = [below, block?.header.log.size].filter((s) => s !== undefined && s > 0);
    throw new MedgateError(
      GatewayErrorCode.NOT_A_CHECKPOINT,
      `no block has a checkpoint of ${size} leaves; nearest checkpoint sizes: ${nearest.join(', ') || 'none'}`,
      { field: 'size', got: size, want: nearest },
    );
  }

  /**
   * Finishes pending appends, cuts a last block (so every acknowledged leaf and waiting
   * transaction is in one), then closes the data directory.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    try {
      await this.#log.close();
      if (this.#producer !== undefined) {
        await this.#producer.stop();
        // Blocks of up to maxTxPerBlock: cut until the pool is empty (bounded by its size).
        for (let i = 0; i <= (this.#pool?.size ?? 0); i++) {
          await this.#producer.cut();
          if ((this.#pool?.size ?? 0) === 0) break;
        }
      }
    } finally {
      this.#pool?.rejectAll(new MedgateError(GatewayErrorCode.LEDGER_CLOSED, 'the ledger closed'));
      await this.#dataDir.close();
    }
  }

  #writable(): MedgateError | undefined {
    if (this.#closing !== undefined)
      return new MedgateError(GatewayErrorCode.LEDGER_CLOSED, 'the ledger is closed');
    if (this.#producer === undefined) {
      return new MedgateError(GatewayErrorCode.LEDGER_READ_ONLY, 'the ledger was opened read-only');
    }
    return undefined;
  }

  #checkHeight(height: number): void {
    const tip = this.tip.header.height;
    if (!Number.isSafeInteger(height) || height < 0 || height > tip) {
      throw new MedgateError(
        GatewayErrorCode.BLOCK_NOT_FOUND,
        `no block at height ${height}; the tip is ${tip}`,
        {
          field: 'height',
          got: height,
          want: `0..${tip}`,
        },
      );
    }
  }
}

/** The genesis config from block 0's one transaction. */
export async function loadGenesis(store: BlockStore): Promise<GenesisConfig> {
  const [config] = await store.txs(0);
  if (config === undefined)
    throw new MedgateError(GatewayErrorCode.LEDGER_CORRUPT, 'the genesis config is missing');
  return decodeGenesisBytes(config);
}

/** Tip block and the state after it: newest snapshot, then the blocks after it replayed. */
async function loadHead(
  store: BlockStore,
  machine: StateMachine,
): Promise<{ genesis: GenesisConfig; head: ChainHead }> {
  const tipHeight = await store.tipHeight();
  if (tipHeight === undefined) {
    throw new MedgateError(
      GatewayErrorCode.LEDGER_NOT_INITIALIZED,
      'the data directory holds no genesis block',
    );
  }
  const genesis = await loadGenesis(store);
  const tip = await store.block(tipHeight);
  const snapshot = await store.latestSnapshot(tipHeight);
  let state: State;
  let from: number;
  if (snapshot !== undefined) {
    state = decodeState(snapshot.bytes);
    from = snapshot.height + 1;
  } else {
    state = genesisState(genesis, (await store.block(0)).header.t);
    from = 1;
  }
  for (let height = from; height <= tipHeight; height++) {
    const block = height === tipHeight ? tip : await store.block(height);
    const at = { time: block.header.t, height };
    for (const tx of await store.txs(height)) state = machine.apply(state, tx, at).state;
  }
  return { genesis, head: { block: tip, state } };
}

/** The authority signer: the given key, or DIR/authority.key; it must be a chain authority. */
async function authoritySigner(
  dir: string,
  secretKey: Uint8Array | undefined,
  state: State,
  backend: Ed25519Backend,
): Promise<CoseSigner> {
  let key = secretKey;
  if (key === undefined) {
    const file = join(dir, AUTHORITY_KEY_FILE);
    try {
      key = decodePrivateKeyPem(await readFile(file, 'utf8'));
    } catch (cause) {
      const why = isMedgateError(cause) ? cause.message : 'cannot be read';
      throw new MedgateError(GatewayErrorCode.AUTHORITY_KEY, `authority key ${file}: ${why}`, { cause });
    }
  }
  const signer = signerFromSecretKey(key, backend);
  if (!state.authorities.some((pub) => equalBytes(kidOf(pub), signer.kid))) {
    throw new MedgateError(
      GatewayErrorCode.AUTHORITY_KEY,
      'the authority key is not an authority of this chain',
      {
        field: 'authority',
      },
    );
  }
  return signer;
}
