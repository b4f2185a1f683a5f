/**
 * `medgate device enrol|approve|revoke|rotate|list|show` (DESIGN §1, §7): the fleet admin's
 * device commands. Each signs a transaction with the admin's own key file and submits it over
 * the gateway's HTTP API; `rotate` is signed by the device's old key and its new key (the new
 * key's proof), as the ledger requires. Reads use a fresh admin connect token.
 */
import { toHex } from '../../../firmware-ts/protocol/bytes.js';
import { signerFromSecretKey } from '../../../firmware-ts/protocol/cose.js';
import { nodeBackend } from '../../../firmware-ts/protocol/ed25519/node.js';
import { assertDeviceId } from '../../../firmware-ts/protocol/ids.js';
import { kidOf } from '../../../firmware-ts/protocol/kid.js';
import { signRotateProof } from '../../../firmware-ts/protocol/tx/sign.js';
import type { ChainInfo } from '../admin-session.js';
import {
  ADMIN_OPTIONS,
  adminSession,
  authorization,
  clientOf,
  GATEWAY_OPTION,
  readSecretKey,
  type Session,
  submitTx,
} from '../admin-session.js';
import type { TxResult } from '../api-client.js';
import { type Command, ExitCode, type Io, type ParsedArgs, stringOption, UsageError } from '../command.js';
import { JSON_OPTION, maxPositionals, readPublicKey } from './common.js';

/** The one positional device id; UsageError when it is missing or not a device id. */
export function deviceArg(args: ParsedArgs, name = 'ID'): string {
  maxPositionals(args, 1);
  const id = args.positionals[0];
  if (id === undefined) throw new UsageError(`missing ${name}`);
  try {
    return assertDeviceId(id, name);
  } catch {
    throw new UsageError(`${name} must be 1 to 64 of A-Za-z0-9._- (not 'enrol'), got '${id}'`);
  }
}

/** Prints a submitted transaction: `--json` gives the API's answer plus `extra`. */
export function printTx(io: Io, args: ParsedArgs, result: TxResult, line: string, extra: object = {}): void {
  if (args.values.json) io.out(JSON.stringify({ ...result, ...extra }));
  else io.out(`${line} (block ${result.height}, tx ${result.txId.slice(0, 16)})`);
}

const WITH_JSON = Object.freeze({ ...ADMIN_OPTIONS, json: JSON_OPTION });

interface DeviceView {
  readonly id: string;
  readonly model: string;
  readonly status: string;
  readonly enrolledBy: string;
  readonly since: { readonly height: number; readonly at: string };
  readonly firmware: { readonly seq: number; readonly version?: string } | null;
  readonly key: { readonly kid: string; readonly pem?: string } | null;
}

const enrol: Command = {
  path: ['device', 'enrol'],
  summary: "enrol a device with its public key and model (signed with the admin's key)",
  args: 'ID',
  options: {
    ...WITH_JSON,
    pub: {
      type: 'string',
      value: 'FILE|HEX',
      description: "the device's public key: SPKI PEM file or 64 hex digits",
    },
    model: { type: 'string', value: 'MODEL', description: 'the device model (decides its policy)' },
  },
  async run(args, io) {
    const dev = deviceArg(args);
    const pub = await readPublicKey(stringOption(args, 'pub', true), 'pub');
    const model = stringOption(args, 'model', true);
    const session = await adminSession(args);
    const result = await submitTx(session, 'device.enrol', { dev, pub, model });
    printTx(
      io,
      args,
      result,
      `device ${dev} (${model}) enrolled by ${session.actor}, kid ${toHex(kidOf(pub))}`,
    );
    return ExitCode.OK;
  },
};

const approve: Command = {
  path: ['device', 'approve'],
  summary: 'approve a self-enrolled device that waits for an admin',
  args: 'ID',
  options: WITH_JSON,
  async run(args, io) {
    const dev = deviceArg(args);
    const session = await adminSession(args);
    printTx(io, args, await submitTx(session, 'device.approve', { dev }), `device ${dev} approved`);
    return ExitCode.OK;
  },
};

const revoke: Command = {
  path: ['device', 'revoke'],
  summary: 'revoke a device: its key is no longer accepted and it is disconnected',
  args: 'ID',
  options: {
    ...WITH_JSON,
    reason: { type: 'string', value: 'TEXT', description: 'why (recorded on the ledger)' },
  },
  async run(args, io) {
    const dev = deviceArg(args);
    const reason = stringOption(args, 'reason');
    const session = await adminSession(args);
    const result = await submitTx(session, 'device.revoke', reason === undefined ? { dev } : { dev, reason });
    printTx(io, args, result, `device ${dev} revoked`);
    return ExitCode.OK;
  },
};

const rotate: Command = {
  path: ['device', 'rotate'],
  summary: "rotate a device's key: signed by its current key and by the new one",
  args: 'ID',
  options: {
    gateway: GATEWAY_OPTION,
    key: { type: 'string', value: 'FILE', description: "the device's current private key (PKCS#8 PEM)" },
    'new-key': {
      type: 'string',
      value: 'FILE',
      description: 'the new private key (PKCS#8 PEM), e.g. from medgate keygen',
    },
    json: JSON_OPTION,
  },
  details:
    'The device signs device.rotate with its current key; the new key signs a proof naming the\n' +
    'device and the old key (DESIGN §4), so neither key alone can move the device to another key.',
  async run(args, io) {
    const dev = deviceArg(args);
    const oldSigner = signerFromSecretKey(
      await readSecretKey(stringOption(args, 'key', true), 'key'),
      nodeBackend,
    );
    const newSecret = await readSecretKey(stringOption(args, 'new-key', true), 'new-key');
    const newPub = nodeBackend.publicKey(newSecret);
    const client = clientOf(args);
    const { chain } = await client.get<ChainInfo>('/v1/chain');
    const session: Session = { client, chain, actor: dev, signer: oldSigner };
    const proof = signRotateProof(
      { dev, old: oldSigner.kid, pub: newPub },
      signerFromSecretKey(newSecret, nodeBackend),
      chain,
    );
    const result = await submitTx(session, 'device.rotate', { pub: newPub, proof });
    printTx(io, args, result, `device ${dev} now signs with kid ${toHex(kidOf(newPub))}`, {
      kid: toHex(kidOf(newPub)),
    });
    return ExitCode.OK;
  },
};

const list: Command = {
  path: ['device', 'list'],
  summary: 'list the devices on the ledger (admins)',
  options: WITH_JSON,
  async run(args, io) {
    maxPositionals(args, 0);
    const session = await adminSession(args);
    const devices: DeviceView[] = [];
    let after: string | undefined;
    // Pages of 1,000 until the gateway says there is no next one; ids must move forward.
    for (;;) {
      const query = after === undefined ? '?limit=1000' : `?limit=1000&after=${encodeURIComponent(after)}`;
      const page = await session.client.get<{ devices: DeviceView[]; next?: string }>(
        `/v1/devices${query}`,
        authorization(session),
      );
      devices.push(...page.devices);
      if (page.next === undefined || page.devices.length === 0) break;
      if (after !== undefined && page.next <= after) break;
      after = page.next;
    }
    if (args.values.json) {
      io.out(JSON.stringify({ devices }));
      return ExitCode.OK;
    }
    if (devices.length === 0) io.out('no devices');
    for (const d of devices) {
      const fw = d.firmware === null ? '-' : `fw ${d.firmware.version ?? d.firmware.seq}`;
      io.out(
        `${d.id.padEnd(24)} ${d.status.padEnd(8)} ${d.model.padEnd(16)} ${fw.padEnd(12)} kid ${d.key?.kid ?? '-'}`,
      );
    }
    return ExitCode.OK;
  },
};

const show: Command = {
  path: ['device', 'show'],
  summary: 'show one device: status, model, firmware, current key',
  args: 'ID',
  options: WITH_JSON,
  async run(args, io) {
    const dev = deviceArg(args);
    const session = await adminSession(args);
    const d = await session.client.get<DeviceView>(
      `/v1/devices/${encodeURIComponent(dev)}`,
      authorization(session),
    );
    if (args.values.json) {
      io.out(JSON.stringify(d));
      return ExitCode.OK;
    }
    io.out(`device   ${d.id}`);
    io.out(`status   ${d.status}`);
    io.out(`model    ${d.model}`);
    io.out(`enrolled block ${d.since.height} (${d.since.at}) by ${d.enrolledBy}`);
    io.out(`firmware ${d.firmware === null ? '-' : (d.firmware.version ?? `seq ${d.firmware.seq}`)}`);
    io.out(`kid      ${d.key?.kid ?? '- (no current key)'}`);
    if (d.key?.pem !== undefined) io.out(d.key.pem.trimEnd());
    return ExitCode.OK;
  },
};

export const deviceCommands: readonly Command[] = [enrol, approve, revoke, rotate, list, show];
