/**
 * Real signed objects for the update agent's tests, built with the protocol's own functions: a
 * chain with an authority, three admins (2 of 3), a vendor, a device; vendor-signed manifests;
 * proposal.create / proposal.approve transactions; signed blocks with a txRoot over them and an
 * RFC 9162 inclusion path; and a device harness with in-memory slots, a fake clock and a fake
 * image server.
 */

import { UpdateAgent, type UpdateAgentOptions } from '../../firmware-ts/agent/agent.js';
import type { ChunkTransport } from '../../firmware-ts/agent/download.js';
import type { Clock, Delay } from '../../firmware-ts/agent/ports.js';
import { MemoryKeyValue, MemorySlots } from '../../firmware-ts/agent/slots.js';
import { BLOCK_VERSION, type SignedBlock, signBlock, txRootOf } from '../../firmware-ts/protocol/block.js';
import { utf8 } from '../../firmware-ts/protocol/bytes.js';
import {
  type CoseSigner,
  chainAad,
  signerFromSecretKey,
  verifyCoseSign1,
} from '../../firmware-ts/protocol/cose.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { sha256 } from '../../firmware-ts/protocol/hash.js';
import { EMPTY_ROOT, leafHash, MemoryTree } from '../../firmware-ts/protocol/merkle/index.js';
import { decodeTx, signManifest, signTx, txId } from '../../firmware-ts/protocol/tx/sign.js';
import type {
  Manifest,
  PolicySetBody,
  RolloutTarget,
  Tx,
  UpdateReportBody,
} from '../../firmware-ts/protocol/tx/types.js';
import {
  buildFactoryBundle,
  type ChunkRequest,
  decodeChunkRequest,
  encodeChunk,
  encodeOffer,
  type Offer,
  type TrustBundle,
} from '../../firmware-ts/protocol/update/index.js';

export const CHAIN = 'agent-test';
export const OTHER_CHAIN = 'other-chain';
export const DEVICE = 'wearable-001';
export const MODEL = 'wearable-v1';
/** Block time of the approving block, and the device's clock at the start. */
export const T0 = 1_750_000_000_000;
export const DAY = 24 * 60 * 60 * 1000;
export const FACTORY_SEQ = 1;
export const SLOT_BYTES = 128 * 1024;

export interface Key {
  readonly id: string;
  readonly pub: Uint8Array;
  readonly signer: CoseSigner;
}

/** Deterministic keys (the secret is SHA-256 of the name), signed with the fast backend. */
export function key(id: string): Key {
  const secret = sha256(utf8(`medgate agent test key ${id}`));
  return { id, pub: nodeBackend.publicKey(secret), signer: signerFromSecretKey(secret, nodeBackend) };
}

export const keys = Object.freeze({
  authority: key('authority'),
  alice: key('alice'),
  bob: key('bob'),
  carol: key('carol'),
  dave: key('dave'),
  mallory: key('mallory'),
  acme: key('acme'),
  rogue: key('rogue'),
  device: key(DEVICE),
});

export const genesis = Object.freeze({
  chain: CHAIN,
  authorities: [keys.authority.pub],
  admins: [keys.alice, keys.bob, keys.carol].map((k) => ({ id: k.id, pub: k.pub })),
  threshold: 2,
  vendors: [{ id: 'acme', pub: keys.acme.pub, models: [MODEL, 'bp-cuff-v1'] }],
});

export function factoryBundle(): TrustBundle {
  return buildFactoryBundle(genesis);
}

/** A ledger rollout policy (a genesis `policies` item, a policy.set body); the rest as the demo's. */
export function ledgerPolicy(
  model: string,
  approvals: number,
  approvers: 'all' | readonly string[] = 'all',
): PolicySetBody {
  return { model, policy: { approvals, approvers, enrolment: 'approval', maxWaveSize: 100, maxFailures: 5 } };
}

/** The factory bundle of the test chain's genesis config with these rollout policies. */
export function policyBundle(...policies: PolicySetBody[]): TrustBundle {
  return buildFactoryBundle({ ...genesis, policies });
}

/** A deterministic image of `size` bytes (different `salt`, different bytes). */
export function image(size: number, salt = 0): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + salt * 17 + (i >> 8)) & 0xff;
  return out;
}

export const FACTORY_IMAGE = image(5000, 99);

export interface Release {
  readonly image: Uint8Array;
  readonly manifest: Manifest;
  /** The vendor's COSE_Sign1. */
  readonly cose: Uint8Array;
  /** SHA-256 of `cose`: the release id a rollout authorises. */
  readonly id: Uint8Array;
}

export interface ReleaseOptions {
  readonly seq?: number;
  readonly model?: string;
  readonly vendorId?: string;
  readonly signer?: Key;
  readonly image?: Uint8Array;
  readonly size?: number;
  readonly chain?: string;
}

export function release(options: ReleaseOptions = {}): Release {
  const img = options.image ?? image(40_000, options.seq ?? 2);
  const manifest: Manifest = {
    vendor: options.vendorId ?? 'acme',
    model: options.model ?? MODEL,
    seq: options.seq ?? 2,
    version: `1.${options.seq ?? 2}.0`,
    digest: sha256(img),
    size: options.size ?? img.length,
    created: T0 - DAY,
  };
  const cose = signManifest(manifest, (options.signer ?? keys.acme).signer, options.chain ?? CHAIN);
  return { image: img, manifest, cose, id: sha256(cose) };
}

let nonce = 1;

export function tx(
  actor: Key,
  body: Omit<Tx, 'chain' | 'actor' | 'nonce' | 't'> & { chain?: string },
): Uint8Array {
  const { chain, ...rest } = body as { chain?: string } & Record<string, unknown>;
  return signTx(
    { ...rest, chain: chain ?? CHAIN, actor: `admin:${actor.id}`, nonce: nonce++, t: T0 - 1000 } as Tx,
    actor.signer,
  );
}

export interface ProposalOptions {
  readonly proposer?: Key;
  /** What the proposal authorises (default: the release's id). */
  readonly manifestId?: Uint8Array;
  readonly model?: string;
  readonly target?: RolloutTarget;
  readonly notBefore?: number;
  readonly expires?: number;
  readonly proposalExpires?: number;
  readonly chain?: string;
}

export function proposal(rel: Release, o: ProposalOptions = {}): Uint8Array {
  return tx(o.proposer ?? keys.alice, {
    type: 'proposal.create',
    chain: o.chain,
    body: {
      action: {
        type: 'rollout.authorize',
        body: {
          manifest: o.manifestId ?? rel.id,
          model: o.model ?? rel.manifest.model,
          target: o.target ?? { devs: [DEVICE, 'wearable-002'] },
          notBefore: o.notBefore ?? T0 - DAY,
          expires: o.expires ?? T0 + 7 * DAY,
          waves: [2],
          maxFailures: 1,
        },
      },
      expires: o.proposalExpires ?? T0 + DAY,
    },
  });
}

export function approval(by: Key, proposalId: Uint8Array, chain?: string): Uint8Array {
  return tx(by, { type: 'proposal.approve', chain, body: { proposal: proposalId } });
}

let height = 10;

export interface BlockOptions {
  readonly t?: number;
  readonly chain?: string;
  readonly signer?: Key;
}

/** A signed block over `txs` (the authority's unless `signer` says otherwise). */
export function block(txs: readonly Uint8Array[], o: BlockOptions = {}): SignedBlock {
  return signBlock(
    {
      v: BLOCK_VERSION,
      chain: o.chain ?? CHAIN,
      height: height++,
      prev: sha256(utf8(`prev ${height}`)),
      t: o.t ?? T0,
      txRoot: txRootOf(txs),
      txCount: txs.length,
      log: { size: 0, root: EMPTY_ROOT },
    },
    (o.signer ?? keys.authority).signer,
  );
}

export interface OfferOptions extends ProposalOptions {
  /** Approvers after the proposer (default: bob). */
  readonly approvers?: readonly Key[];
  /** Approval transactions to use as they are (instead of `approvers`). */
  readonly approvals?: readonly Uint8Array[];
  /** The proposal transaction to use as it is. */
  readonly proposalTx?: Uint8Array;
  /** The manifest COSE the offer carries (default: the release's). */
  readonly manifest?: Uint8Array;
  readonly rollout?: Uint8Array;
  readonly block?: BlockOptions;
  /** Time of `latest` (default: a second after the block), or its own options. */
  readonly latest?: BlockOptions;
  /** Make the inclusion path wrong. */
  readonly badPath?: boolean;
  readonly chunk?: number;
}

export interface BuiltOffer {
  readonly offer: Offer;
  readonly bytes: Uint8Array;
  readonly rollout: Uint8Array;
  readonly proposal: Uint8Array;
  readonly approvals: readonly Uint8Array[];
  readonly block: SignedBlock;
  readonly latest: SignedBlock;
}

/** A complete offer, every part really signed, the completing tx proven in its block. */
export function offer(rel: Release, o: OfferOptions = {}): BuiltOffer {
  const prop = o.proposalTx ?? proposal(rel, o);
  const id = txId(prop);
  const approvals = o.approvals ?? (o.approvers ?? [keys.bob]).map((k) => approval(k, id, o.chain));
  // The block holds unrelated transactions around the proposal and approvals.
  const filler = [approval(keys.carol, sha256(utf8('another proposal')))];
  const txs = [...filler, prop, ...approvals, ...filler];
  const completing = approvals.length > 0 ? approvals[approvals.length - 1]! : prop;
  const txIndex = txs.indexOf(completing);
  const tree = new MemoryTree();
  for (const t of txs) tree.append(leafHash(t));
  let txPath = tree.inclusionProof(txIndex);
  if (o.badPath) txPath = txPath.map((h, i) => (i === 0 ? sha256(h) : h));
  const blk = block(txs, o.block);
  const latest = block([], { t: (o.block?.t ?? T0) + 1000, ...o.latest });
  const built: Offer = {
    rollout: o.rollout ?? id,
    manifest: o.manifest ?? rel.cose,
    proposal: prop,
    approvals,
    block: blk.bytes,
    txIndex,
    txPath,
    latest: latest.bytes,
    chunk: o.chunk ?? 16_384,
  };
  return {
    offer: built,
    bytes: encodeOffer(built),
    rollout: id,
    proposal: prop,
    approvals,
    block: blk,
    latest,
  };
}

// ---------------------------------------------------------------------------------------------
// The device side: fake clock, fake image server, harness.

/** A clock whose time moves only when told; due timers fire on `advance`. */
export class FakeClock implements Clock {
  private timers: { at: number; resolve: () => void; live: boolean }[] = [];
  constructor(private t: number = T0) {}

  now(): number {
    return this.t;
  }

  delay(ms: number): Delay {
    const timer = { at: this.t + ms, resolve: () => {}, live: true };
    const promise = new Promise<void>((resolve) => {
      timer.resolve = resolve;
    });
    this.timers.push(timer);
    return {
      promise,
      cancel: () => {
        timer.live = false;
      },
    };
  }

  advance(ms: number): void {
    this.t += ms;
    for (const timer of this.timers)
      if (timer.live && timer.at <= this.t) {
        timer.live = false;
        timer.resolve();
      }
    this.timers = this.timers.filter((x) => x.live);
  }

  pending(): number {
    return this.timers.filter((x) => x.live).length;
  }
}

export type Serve = (request: ChunkRequest, image: Uint8Array) => Uint8Array | Promise<Uint8Array>;

/** Serves `image` honestly: exactly the bytes asked for. */
export const honest: Serve = (req, img) =>
  encodeChunk({ digest: req.digest, offset: req.offset, data: img.slice(req.offset, req.offset + req.len) });

/** An image server; records every request (decoded from the agent's own CBOR). */
export class FakeServer implements ChunkTransport {
  readonly requests: ChunkRequest[] = [];
  constructor(
    public image: Uint8Array,
    public serve: Serve = honest,
  ) {}

  request(message: Uint8Array, request: ChunkRequest): Promise<Uint8Array> {
    const decoded = decodeChunkRequest(message);
    if (decoded.offset !== request.offset || decoded.len !== request.len) throw new Error('request mismatch');
    this.requests.push(decoded);
    return Promise.resolve().then(() => this.serve(decoded, this.image));
  }
}

export interface Report extends UpdateReportBody {
  readonly actor: string;
  readonly nonce: number;
  readonly bytes: Uint8Array;
}

export function decodeReport(bytes: Uint8Array): Report {
  const { tx, cose } = decodeTx(bytes);
  if (tx.type !== 'update.report') throw new Error(`not a report: ${tx.type}`);
  // The device's own key signed it, for this chain: throws otherwise.
  verifyCoseSign1(cose, keys.device.pub, chainAad(CHAIN), nobleBackend);
  return { ...tx.body, actor: tx.actor, nonce: tx.nonce, bytes };
}

export interface Device {
  readonly agent: UpdateAgent;
  readonly slots: MemorySlots;
  readonly kv: MemoryKeyValue;
  readonly clock: FakeClock;
  readonly server: FakeServer;
  readonly reports: Uint8Array[];
  readonly logs: { level: string; message: string; fields?: Readonly<Record<string, unknown>> }[];
  /** Decoded reports, in order. */
  states(): string[];
  decoded(): Report[];
}

export interface DeviceOptions {
  readonly factorySeq?: number;
  readonly selfTest?: UpdateAgentOptions['selfTest'];
  readonly onReport?: (report: Report, device: Device) => void;
  readonly serve?: Serve;
  readonly image?: Uint8Array;
  readonly bundle?: TrustBundle;
  readonly kv?: MemoryKeyValue;
  readonly slots?: MemorySlots;
  readonly clock?: FakeClock;
  readonly limits?: UpdateAgentOptions['limits'];
}

export async function device(o: DeviceOptions = {}): Promise<Device> {
  const slots = o.slots ?? new MemorySlots(SLOT_BYTES, { slot: 'A', image: FACTORY_IMAGE });
  const kv = o.kv ?? new MemoryKeyValue();
  const clock = o.clock ?? new FakeClock();
  const server = new FakeServer(o.image ?? new Uint8Array(0), o.serve);
  const reports: Uint8Array[] = [];
  const logs: Device['logs'] = [];
  let dev: Device | undefined;
  const agent = await UpdateAgent.create({
    deviceId: DEVICE,
    model: MODEL,
    signer: keys.device.signer,
    backend: nobleBackend,
    factoryBundle: o.bundle ?? factoryBundle(),
    factorySeq: o.factorySeq ?? FACTORY_SEQ,
    slots,
    kv,
    transport: server,
    clock,
    selfTest: o.selfTest ?? (async () => true),
    report: (bytes) => {
      reports.push(bytes);
      if (o.onReport !== undefined && dev !== undefined) o.onReport(decodeReport(bytes), dev);
    },
    log: (level, message, fields) => logs.push({ level, message, fields }),
    limits: o.limits,
  });
  dev = {
    agent,
    slots,
    kv,
    clock,
    server,
    reports,
    logs,
    states: () => reports.map((r) => decodeReport(r).state),
    decoded: () => reports.map(decodeReport),
  };
  return dev;
}

/** The device still runs its factory firmware: same active and booted slot, same seq, same image. */
export async function onOldFirmware(dev: Device): Promise<{
  active: string;
  booted: string;
  seq: number;
  image: boolean;
}> {
  return {
    active: await dev.slots.activeSlot(),
    booted: await dev.slots.bootedSlot(),
    seq: await dev.agent.installedSeq(),
    image:
      dev.slots.image('A').length === FACTORY_IMAGE.length &&
      dev.slots.image('A').every((b, i) => b === FACTORY_IMAGE[i]),
  };
}

export const OLD = Object.freeze({ active: 'A', booted: 'A', seq: FACTORY_SEQ, image: true });
