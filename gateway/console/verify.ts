/**
 * What the console checks itself, in the browser, without trusting the gateway that served it
 * (DESIGN §2, §3): a verified reading's COSE signature against the device's key from the ledger,
 * its receipt against a block signed by the authority, and the blocks of the ledger explorer
 * (signature, link to the block before, transaction root). Pure functions on parsed JSON and
 * bytes, with the protocol's noble backend; no DOM, so they are unit-tested under Node.
 */
import { type SignedBlock, txRootOf, verifyBlock } from '../../firmware-ts/protocol/block.js';
import { equalBytes, fromBase64, fromHex, toHex } from '../../firmware-ts/protocol/bytes.js';
import type { Reading } from '../../firmware-ts/protocol/decode/reading.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { leafHash } from '../../firmware-ts/protocol/merkle/index.js';
import { verifyReceipt } from '../../firmware-ts/protocol/receipt.js';
import {
  decodeVerifiedReading,
  parseVerifiedReading,
  type VerifiedReading,
  verifyVerifiedReading,
} from '../../firmware-ts/protocol/verified-reading.js';
import { type Alert, news2Alerts } from '../../firmware-ts/protocol/vitals.js';
import { ConsoleErrorCode, isMedgateError, MedgateError } from './errors.js';

/** A key of a device as `GET /v1/devices/{id}` lists it (`keys`). */
export interface DeviceKeyJson {
  readonly kid: string;
  readonly pub: string;
  readonly until?: unknown;
}

/** The outcome of one check: a code and a message when it failed. */
export interface Failure {
  readonly code: string;
  readonly message: string;
}

function failure(err: unknown): Failure {
  if (isMedgateError(err)) return { code: err.code, message: err.message };
  return { code: ProtocolErrorCode.BAD_ARGUMENT, message: err instanceof Error ? err.message : String(err) };
}

export type ReadingCheck =
  | {
      readonly status: 'verified';
      readonly reading: VerifiedReading;
      /** The signed reading (what the chart plots). */
      readonly signed: Reading;
      /** NEWS2 / ADA red bands crossed, recomputed here from the signed values. */
      readonly alerts: readonly Alert[];
      /** Signed with a key the device has since rotated away from. */
      readonly retiredKey: boolean;
    }
  | {
      readonly status: 'failed';
      /** The claimed reading, when it at least decodes (shown struck through, never plotted). */
      readonly reading?: VerifiedReading;
      readonly failure: Failure;
    };

/**
 * Checks a verified reading (JSON text, bytes or parsed value) against the device's keys on the
 * ledger: the key is chosen by the reading's kid among every key the device ever held, then
 * `verifyVerifiedReading` checks the COSE signature (external_aad = chain id), kid, leaf hash
 * and that every restated field equals the signed one. `chain` is the chain the page trusts:
 * a reading of another chain fails.
 */
export function checkReading(input: unknown, keys: readonly DeviceKeyJson[], chain: string): ReadingCheck {
  let reading: VerifiedReading;
  try {
    reading =
      typeof input === 'string' || input instanceof Uint8Array
        ? parseVerifiedReading(input)
        : decodeVerifiedReading(input);
  } catch (err) {
    return { status: 'failed', failure: failure(err) };
  }
  try {
    if (reading.chain !== chain) {
      throw new MedgateError(
        ProtocolErrorCode.CHAIN_MISMATCH,
        `the reading names chain ${reading.chain}, not ${chain}`,
        {
          field: 'chain',
        },
      );
    }
    const kid = toHex(reading.kid);
    const key = keys.find((k) => k.kid === kid);
    if (key === undefined) {
      throw new MedgateError(
        ConsoleErrorCode.UNKNOWN_KID,
        `kid ${kid} names no key of device ${reading.dev} on the ledger`,
        { field: 'kid' },
      );
    }
    const signed = verifyVerifiedReading(reading, fromHex(key.pub, 'pub'), nobleBackend);
    return {
      status: 'verified',
      reading,
      signed,
      alerts: news2Alerts(signed.obs),
      retiredKey: key.until !== undefined,
    };
  } catch (err) {
    return { status: 'failed', reading, failure: failure(err) };
  }
}

export type ReceiptCheck =
  | {
      readonly status: 'verified';
      readonly height: number;
      readonly treeSize: number;
      readonly block: string;
    }
  | { readonly status: 'failed'; readonly failure: Failure };

/**
 * Checks a receipt (the JSON of `GET /v1/receipts/{leaf}`) for the reading whose COSE bytes are
 * `cose`: it must verify offline with the authority keys (block signature, chain, checkpoint
 * size, RFC 9162 inclusion) and prove exactly this reading's leaf (leaf hash of the bytes the
 * page verified, at the index the reading claims).
 */
export function checkReceipt(
  receipt: unknown,
  cose: Uint8Array,
  leafIndex: number,
  authorities: readonly Uint8Array[],
  chain: string,
): ReceiptCheck {
  try {
    const verified = verifyReceipt(receipt, authorities, nobleBackend);
    if (verified.chain !== chain) {
      throw new MedgateError(ProtocolErrorCode.CHAIN_MISMATCH, `the receipt is for chain ${verified.chain}`, {
        field: 'chain',
      });
    }
    if (!equalBytes(verified.leafHash, leafHash(cose)) || verified.leafIndex !== leafIndex) {
      throw new MedgateError(
        ConsoleErrorCode.RECEIPT_OTHER_LEAF,
        `the receipt proves leaf ${verified.leafIndex}, not this reading (leaf ${leafIndex})`,
        { field: 'leafHash' },
      );
    }
    return {
      status: 'verified',
      height: verified.signedBlock.header.height,
      treeSize: verified.treeSize,
      block: toHex(verified.signedBlock.hash),
    };
  } catch (err) {
    return { status: 'failed', failure: failure(err) };
  }
}

/** A block as `GET /v1/blocks/{height}` serves it (only the fields checked here). */
export interface BlockJson {
  readonly height: number;
  readonly block: string;
  readonly txs: readonly { readonly bytes: string }[];
}

export type BlockCheck =
  | { readonly status: 'verified'; readonly signed: SignedBlock; readonly txs: readonly Uint8Array[] }
  | { readonly status: 'failed'; readonly failure: Failure; readonly signed?: SignedBlock };

/**
 * Checks a served block: its signature by an authority key of `chain`, that it is the height
 * asked for, that its transactions hash to `txRoot` (and number `txCount`), and, when the hash
 * of the block before it is known, that `prev` links to it.
 */
export function checkBlock(
  json: BlockJson,
  authorities: readonly Uint8Array[],
  chain: string,
  prevHash?: Uint8Array,
): BlockCheck {
  let signed: SignedBlock | undefined;
  try {
    signed = verifyBlock(fromBase64(json.block, 'block'), { authorities, chain }, nobleBackend);
    const { header } = signed;
    if (header.height !== json.height) {
      throw new MedgateError(
        ConsoleErrorCode.CHAIN_BROKEN_LINK,
        `block ${json.height} is signed as ${header.height}`,
        {
          field: 'height',
        },
      );
    }
    const txs = json.txs.map((t, i) => fromBase64(t.bytes, `txs[${i}].bytes`));
    if (txs.length !== header.txCount || !equalBytes(txRootOf(txs), header.txRoot)) {
      throw new MedgateError(
        ConsoleErrorCode.CHAIN_TX_MISMATCH,
        `the ${txs.length} transactions served do not hash to the block's txRoot (txCount ${header.txCount})`,
        { field: 'txs' },
      );
    }
    if (prevHash !== undefined && !equalBytes(header.prev, prevHash)) {
      throw new MedgateError(
        ConsoleErrorCode.CHAIN_BROKEN_LINK,
        `block ${header.height}'s prev is not the hash of block ${header.height - 1}`,
        { field: 'prev' },
      );
    }
    return { status: 'verified', signed, txs };
  } catch (err) {
    return signed === undefined
      ? { status: 'failed', failure: failure(err) }
      : { status: 'failed', failure: failure(err), signed };
  }
}
