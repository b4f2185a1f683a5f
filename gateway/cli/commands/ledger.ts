/**
 * `medgate ledger verify | show | tail | consistency`: the auditor's view of a ledger
 * (DESIGN §1, §4). Read commands open the ledger read-only; `--json` prints JSON.
 */
import { writeFile } from 'node:fs/promises';
import type { SignedBlock } from '../../../firmware-ts/protocol/block.js';
import { toBase64, toHex } from '../../../firmware-ts/protocol/bytes.js';
import {
  encodeConsistencyBundle,
  verifyConsistencyBundle,
} from '../../../firmware-ts/protocol/checkpoint.js';
import { nodeBackend } from '../../../firmware-ts/protocol/ed25519/node.js';
import { decodeLedgerEntry, entryType } from '../../../firmware-ts/protocol/tx/entry.js';
import { txId } from '../../../firmware-ts/protocol/tx/sign.js';
import { decodeGenesisBytes } from '../../ledger/genesis.js';
import type { Ledger } from '../../ledger/ledger.js';
import { verifyLedgerDir } from '../../ledger/verify.js';
import { type Command, ExitCode, type Io, integerOption, stringOption } from '../command.js';
import {
  AUTHORITY_OPTION,
  authorityKeys,
  DATA_OPTION,
  integerArg,
  JSON_OPTION,
  maxPositionals,
  openReadOnly,
  readJsonFile,
  short,
  toJson,
} from './common.js';

export const ledgerVerifyCommand: Command = {
  path: ['ledger', 'verify'],
  summary: 'replay the ledger from genesis and check every block, transaction, leaf and proof node',
  options: {
    data: DATA_OPTION,
    authority: { ...AUTHORITY_OPTION, description: 'pin the authority key(s) blocks must be signed with' },
    json: JSON_OPTION,
  },
  details: 'Exit 0 when everything holds; 1 with the first bad block (height) and a code otherwise.',
  async run(args, io) {
    maxPositionals(args, 0);
    const dir = stringOption(args, 'data', true);
    const pinned = args.values.authority === undefined ? undefined : await authorityKeys(args);
    const report = await verifyLedgerDir(dir, {
      backend: nodeBackend,
      ...(pinned ? { authorities: pinned } : {}),
    });
    if (args.values.json) io.out(JSON.stringify(report));
    if (report.failure !== undefined) {
      const { height, code, message } = report.failure;
      const where = height === null ? 'outside any block' : `block ${height}`;
      io.err(`medgate ledger verify: FAILED at ${where}: ${code}: ${message}`);
      return ExitCode.FAILED;
    }
    if (!args.values.json) {
      const tip = report.tip!;
      io.out(
        `ledger '${report.chain}' verified: ${report.blocks} blocks (tip ${tip.height}, ${tip.hash.slice(0, 16)}), ` +
          `${report.txs} transactions, ${report.leaves} leaves, ${report.readings} readings, ${report.nodes} nodes ` +
          `in ${(report.ms.total / 1000).toFixed(2)} s`,
      );
    }
    return ExitCode.OK;
  },
};

export const ledgerShowCommand: Command = {
  path: ['ledger', 'show'],
  args: '[HEIGHT]',
  summary: 'show one block (default: the tip) with its decoded transactions',
  options: { data: DATA_OPTION, json: JSON_OPTION },
  async run(args, io) {
    maxPositionals(args, 1);
    const first = args.positionals[0];
    const height = first === undefined ? undefined : integerArg(first, 'HEIGHT');
    return withLedger(args, async (ledger) => {
      const block = await ledger.block(height ?? ledger.tip.header.height);
      await printBlocks(ledger, [block], { json: args.values.json === true, single: true }, io);
    });
  },
};

export const ledgerTailCommand: Command = {
  path: ['ledger', 'tail'],
  summary: 'show the last N blocks (default 10), oldest first',
  options: {
    data: DATA_OPTION,
    n: { type: 'string', short: 'n', value: 'N', description: 'number of blocks (default 10)' },
    json: JSON_OPTION,
  },
  async run(args, io) {
    maxPositionals(args, 0);
    const n = integerOption(args, 'n', 10);
    return withLedger(args, async (ledger) => {
      const tip = ledger.tip.header.height;
      const blocks: SignedBlock[] = [];
      for (let h = Math.max(0, tip - n + 1); h <= tip && n > 0; h++) blocks.push(await ledger.block(h));
      await printBlocks(ledger, blocks, { json: args.values.json === true, single: false }, io);
    });
  },
};

export const ledgerConsistencyCommand: Command = {
  path: ['ledger', 'consistency'],
  args: 'SIZE1 SIZE2 | --verify FILE',
  summary: 'prove (or check) that the log of one checkpoint extends another',
  options: {
    data: DATA_OPTION,
    verify: { type: 'string', value: 'FILE', description: 'check a bundle offline instead of making one' },
    authority: AUTHORITY_OPTION,
    out: { type: 'string', value: 'FILE', description: 'write the bundle to FILE instead of stdout' },
    json: JSON_OPTION,
  },
  details:
    'SIZE1 and SIZE2 must be log sizes of signed blocks. The bundle carries the RFC 9162 proof and\n' +
    'both signed headers; --verify FILE --authority PUBKEY checks one with the public key alone.',
  async run(args, io) {
    const file = stringOption(args, 'verify');
    if (file !== undefined) {
      maxPositionals(args, 0);
      const keys = await authorityKeys(args);
      const checked = verifyConsistencyBundle(await readJsonFile(file), keys, nodeBackend);
      const result = {
        valid: true,
        chain: checked.chain,
        size1: checked.size1,
        size2: checked.size2,
        height1: checked.signedBlock1.header.height,
        height2: checked.signedBlock2.header.height,
      };
      if (args.values.json) io.out(JSON.stringify(result));
      else {
        io.out(
          `consistent: the log of ${result.size2} leaves (block ${result.height2}) extends the log of ` +
            `${result.size1} leaves (block ${result.height1}), chain '${result.chain}'`,
        );
      }
      return ExitCode.OK;
    }
    maxPositionals(args, 2);
    const size1 = integerArg(args.positionals[0], 'SIZE1');
    const size2 = integerArg(args.positionals[1], 'SIZE2');
    return withLedger(args, async (ledger) => {
      const bundle = encodeConsistencyBundle(await ledger.consistencyProof(size1, size2));
      const out = stringOption(args, 'out');
      if (out === undefined) io.out(JSON.stringify(bundle, null, args.values.json ? undefined : 2));
      else {
        await writeFile(out, `${JSON.stringify(bundle, null, 2)}\n`);
        io.out(`wrote ${out}`);
      }
    });
  },
};

export const ledgerCommands: readonly Command[] = [
  ledgerVerifyCommand,
  ledgerShowCommand,
  ledgerTailCommand,
  ledgerConsistencyCommand,
];

async function withLedger(args: Parameters<Command['run']>[0], body: (ledger: Ledger) => Promise<void>) {
  const ledger = await openReadOnly(args);
  try {
    await body(ledger);
  } finally {
    await ledger.close();
  }
  return ExitCode.OK;
}

// ---------------------------------------------------------------------------------------------
// Rendering

interface TxView {
  readonly index: number;
  readonly id: string;
  readonly type: string;
  readonly actor?: string;
  readonly nonce?: number;
  readonly t?: number;
  readonly body: unknown;
}

function txView(height: number, index: number, bytes: Uint8Array): TxView {
  const id = toHex(txId(bytes));
  if (height === 0) return { index, id, type: 'genesis', body: toJson(decodeGenesisBytes(bytes)) };
  try {
    const entry = decodeLedgerEntry(bytes);
    if (entry.kind === 'enrol') {
      const { dev, model, t } = entry.request;
      return { index, id, type: entryType(entry), actor: dev, t, body: { dev, model } };
    }
    const { type, actor, nonce, t, body } = entry.tx;
    return { index, id, type, actor, nonce, t, body: toJson(body) };
  } catch (err) {
    // verify reports undecodable transactions; show still shows what is stored.
    return {
      index,
      id,
      type: 'undecodable',
      body: { error: (err as { code?: string }).code ?? String(err) },
    };
  }
}

function blockJson(block: SignedBlock, txs: readonly TxView[]): unknown {
  const h = block.header;
  return {
    height: h.height,
    hash: toHex(block.hash),
    prev: toHex(h.prev),
    t: h.t,
    time: new Date(h.t).toISOString(),
    chain: h.chain,
    kid: toHex(block.kid),
    txRoot: toHex(h.txRoot),
    txCount: h.txCount,
    log: { size: h.log.size, root: toHex(h.log.root) },
    txs,
    block: toBase64(block.bytes),
  };
}

/** One line per body field, for people: ids as they are, bytes shortened. */
function bodyText(body: unknown): string {
  if (typeof body !== 'object' || body === null) return String(body);
  return Object.entries(body as Record<string, unknown>)
    .map(([k, v]) => {
      const text =
        typeof v === 'string' && /^[0-9a-f]{64,}$/.test(v) ? `${v.slice(0, 16)}…` : JSON.stringify(v);
      return `${k}=${text && text.length > 80 ? `${text.slice(0, 77)}...` : text}`;
    })
    .join(' ');
}

/** `json`: one object for `show` (single), an array for `tail`. */
async function printBlocks(
  ledger: Ledger,
  blocks: readonly SignedBlock[],
  json: { json: boolean; single: boolean },
  io: Io,
): Promise<void> {
  const views: { block: SignedBlock; txs: TxView[] }[] = [];
  for (const block of blocks) {
    const txs = (await ledger.blockTxs(block.header.height)).map((bytes, i) =>
      txView(block.header.height, i, bytes),
    );
    views.push({ block, txs });
  }
  if (json.json) {
    const out = views.map((v) => blockJson(v.block, v.txs));
    io.out(JSON.stringify(json.single ? out[0] : out));
    return;
  }
  for (const { block, txs } of views) {
    const h = block.header;
    io.out(
      `block ${h.height}  ${new Date(h.t).toISOString()}  hash ${short(block.hash)}  prev ${short(h.prev)}`,
    );
    io.out(
      `  log ${h.log.size} leaves, root ${short(h.log.root)}; ${h.txCount} tx; signed by kid ${toHex(block.kid)}`,
    );
    for (const tx of txs) {
      if (tx.type === 'genesis') {
        const g = tx.body as {
          chain: string;
          admins: unknown[];
          threshold: number;
          vendors: unknown[];
          policies: unknown[];
        };
        io.out(
          `  genesis: chain '${g.chain}', ${g.admins.length} admins (threshold ${g.threshold}), ` +
            `${g.vendors.length} vendors, ${g.policies.length} policies`,
        );
        continue;
      }
      const who = tx.actor === undefined ? '' : ` by ${tx.actor}`;
      const nonce = tx.nonce === undefined ? '' : ` nonce ${tx.nonce}`;
      io.out(`  tx ${tx.index} ${tx.type}${who}${nonce}: ${bodyText(tx.body)}`);
    }
  }
}
