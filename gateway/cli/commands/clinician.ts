/**
 * `medgate clinician add|grant|revoke`: register a clinician's public key and give or take
 * access to devices' readings (DESIGN §1). Signed with the admin's key, submitted over the
 * gateway's HTTP API; the gateway checks the grants on every clinician request and
 * subscription.
 */
import { toHex } from '../../../firmware-ts/protocol/bytes.js';
import { ID_PATTERN, isDeviceId } from '../../../firmware-ts/protocol/ids.js';
import { kidOf } from '../../../firmware-ts/protocol/kid.js';
import { ADMIN_OPTIONS, adminSession, submitTx } from '../admin-session.js';
import { type Command, ExitCode, type ParsedArgs, stringOption, UsageError } from '../command.js';
import { JSON_OPTION, maxPositionals, readPublicKey } from './common.js';
import { printTx } from './device.js';

const WITH_JSON = Object.freeze({ ...ADMIN_OPTIONS, json: JSON_OPTION });

/** A clinician id, with or without the `clinician:` prefix. */
function clinicianId(text: string | undefined): string {
  if (text === undefined) throw new UsageError('missing CLINICIAN');
  const id = text.startsWith('clinician:') ? text.slice('clinician:'.length) : text;
  if (!ID_PATTERN.test(id)) throw new UsageError(`CLINICIAN must be 1 to 64 of A-Za-z0-9._-, got '${text}'`);
  return id;
}

/** CLINICIAN DEVICE... with at least one device, each a device id, none twice. */
function grantArgs(args: ParsedArgs): { clinician: string; devs: string[] } {
  const [first, ...devs] = args.positionals;
  const clinician = clinicianId(first);
  if (devs.length === 0) throw new UsageError('missing DEVICE (one or more device ids)');
  for (const dev of devs) if (!isDeviceId(dev)) throw new UsageError(`'${dev}' is not a device id`);
  if (new Set(devs).size !== devs.length) throw new UsageError('a device is listed twice');
  return { clinician, devs };
}

const add: Command = {
  path: ['clinician', 'add'],
  summary: "register a clinician's public key on the ledger",
  args: 'ID',
  options: {
    ...WITH_JSON,
    pub: {
      type: 'string',
      value: 'FILE|HEX',
      description: "the clinician's public key: SPKI PEM file or 64 hex digits",
    },
  },
  async run(args, io) {
    maxPositionals(args, 1);
    const id = clinicianId(args.positionals[0]);
    const pub = await readPublicKey(stringOption(args, 'pub', true), 'pub');
    const session = await adminSession(args);
    const result = await submitTx(session, 'clinician.register', { id, pub });
    printTx(io, args, result, `clinician:${id} registered, kid ${toHex(kidOf(pub))}`);
    return ExitCode.OK;
  },
};

const grant: Command = {
  path: ['clinician', 'grant'],
  summary: "give a clinician access to devices' readings",
  args: 'CLINICIAN DEVICE...',
  options: WITH_JSON,
  async run(args, io) {
    const body = grantArgs(args);
    const session = await adminSession(args);
    const result = await submitTx(session, 'access.grant', body);
    printTx(io, args, result, `clinician:${body.clinician} may read ${body.devs.join(', ')}`);
    return ExitCode.OK;
  },
};

const revoke: Command = {
  path: ['clinician', 'revoke'],
  summary: "take a clinician's access to devices away",
  args: 'CLINICIAN DEVICE...',
  options: WITH_JSON,
  async run(args, io) {
    const body = grantArgs(args);
    const session = await adminSession(args);
    const result = await submitTx(session, 'access.revoke', body);
    printTx(io, args, result, `clinician:${body.clinician} may no longer read ${body.devs.join(', ')}`);
    return ExitCode.OK;
  },
};

export const clinicianCommands: readonly Command[] = [add, grant, revoke];
