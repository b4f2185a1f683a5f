/**
 * `medgate receipt get | verify`: a reading's receipt from the ledger, and its offline check
 * with the authority's public key alone (DESIGN §4, docs/receipts.md).
 */
import { writeFile } from 'node:fs/promises';
import { fromHex, toHex } from '../../../firmware-ts/protocol/bytes.js';
import { nodeBackend } from '../../../firmware-ts/protocol/ed25519/node.js';
import { encodeReceipt, verifyReceipt } from '../../../firmware-ts/protocol/receipt.js';
import { type Command, ExitCode, stringOption, UsageError } from '../command.js';
import {
  AUTHORITY_OPTION,
  authorityKeys,
  DATA_OPTION,
  integerArg,
  JSON_OPTION,
  maxPositionals,
  openReadOnly,
  readJsonFile,
} from './common.js';

export const receiptGetCommand: Command = {
  path: ['receipt', 'get'],
  args: 'LEAF_HASH | --index N',
  summary: "write a reading's receipt (inclusion proof and signed block) as JSON",
  options: {
    data: DATA_OPTION,
    index: { type: 'string', value: 'N', description: 'the leaf index instead of its hash' },
    out: { type: 'string', value: 'FILE', description: 'write to FILE instead of stdout' },
  },
  details: 'LEAF_HASH is 64 hex digits: SHA-256(0x00 || reading COSE bytes). See docs/receipts.md.',
  async run(args, io) {
    maxPositionals(args, 1);
    const hashText = args.positionals[0];
    const indexText = stringOption(args, 'index');
    if ((hashText === undefined) === (indexText === undefined))
      throw new UsageError('give LEAF_HASH or --index N');
    let leaf: Uint8Array | number;
    if (indexText !== undefined) leaf = integerArg(indexText, '--index');
    else {
      if (!/^[0-9a-fA-F]{64}$/.test(hashText!)) throw new UsageError('LEAF_HASH must be 64 hex digits');
      leaf = fromHex(hashText!, 'LEAF_HASH');
    }
    const ledger = await openReadOnly(args);
    let text: string;
    try {
      text = `${JSON.stringify(encodeReceipt(await ledger.receipt(leaf)), null, 2)}\n`;
    } finally {
      await ledger.close();
    }
    const out = stringOption(args, 'out');
    if (out === undefined) io.out(text.trimEnd());
    else {
      await writeFile(out, text);
      io.err(`wrote ${out}`);
    }
    return ExitCode.OK;
  },
};

export const receiptVerifyCommand: Command = {
  path: ['receipt', 'verify'],
  args: 'FILE',
  summary: 'check a receipt offline with the authority public key',
  options: { authority: AUTHORITY_OPTION, json: JSON_OPTION },
  details: 'Exit 0 when the receipt is valid; 1 with the code of the first check that failed.',
  async run(args, io) {
    maxPositionals(args, 1);
    const file = args.positionals[0];
    if (file === undefined) throw new UsageError('missing FILE');
    const keys = await authorityKeys(args);
    const receipt = verifyReceipt(await readJsonFile(file), keys, nodeBackend);
    const block = receipt.signedBlock.header;
    const result = {
      valid: true,
      chain: receipt.chain,
      leafIndex: receipt.leafIndex,
      leafHash: toHex(receipt.leafHash),
      height: block.height,
      time: new Date(block.t).toISOString(),
      treeSize: receipt.treeSize,
      kid: toHex(receipt.signedBlock.kid),
      reading: receipt.reading !== undefined,
    };
    if (args.values.json) io.out(JSON.stringify(result));
    else {
      io.out(
        `receipt valid: leaf ${result.leafIndex} (${result.leafHash.slice(0, 16)}) is in the log of ` +
          `${result.treeSize} leaves signed in block ${result.height} at ${result.time}, chain '${result.chain}'` +
          (result.reading ? '; the reading matches its leaf' : ''),
      );
    }
    return ExitCode.OK;
  },
};

export const receiptCommands: readonly Command[] = [receiptGetCommand, receiptVerifyCommand];
