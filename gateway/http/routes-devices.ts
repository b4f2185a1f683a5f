/**
 * Devices as the ledger knows them: status, model, firmware, current key. The list is for
 * admins; one device is for admins and for clinicians with an access grant for it (so a
 * clinician can fetch the key that verifies the readings it receives).
 */
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { encodePublicKeyPem } from '../../firmware-ts/protocol/pem.js';
import { StateErrorCode } from '../ledger/state/errors.js';
import { currentKey, deviceOf } from '../ledger/state/queries.js';
import type { DeviceRecord, KeyEpoch } from '../ledger/state/state.js';
import { requireAdmin, requireDeviceAccess } from './auth.js';
import type { RouteEnv } from './deps.js';
import { stampJson } from './json.js';
import { deviceParam, intQuery } from './params.js';
import { HttpError, sendJson } from './respond.js';
import type { Router } from './router.js';

export const DEVICE_PAGE = Object.freeze({ defaultLimit: 100, maxLimit: 1000 });

function keyJson(key: KeyEpoch): Record<string, unknown> {
  return {
    kid: key.kid,
    pub: toHex(key.pub),
    from: stampJson(key.from),
    ...(key.until === undefined ? {} : { until: stampJson(key.until) }),
  };
}

/** A device summary; `detail` adds the current key as PEM and every past key. */
export function deviceJson(
  device: DeviceRecord,
  current: KeyEpoch | undefined,
  detail: boolean,
): Record<string, unknown> {
  return {
    id: device.id,
    model: device.model,
    status: device.status,
    enrolledBy: device.enrolledBy,
    since: stampJson(device.since),
    ...(device.revoked === undefined ? {} : { revoked: stampJson(device.revoked) }),
    firmware:
      device.firmware === undefined
        ? null
        : {
            seq: device.firmware.seq,
            ...(device.firmware.version === undefined ? {} : { version: device.firmware.version }),
            at: stampJson(device.firmware.at),
          },
    key:
      current === undefined
        ? null
        : { ...keyJson(current), ...(detail ? { pem: encodePublicKeyPem(current.pub) } : {}) },
    ...(detail ? { keys: device.keys.map(keyJson) } : {}),
  };
}

export function deviceRoutes(router: Router, { deps, auth }: RouteEnv): void {
  const { ledger } = deps;

  router.get('/v1/devices', ({ req, res, query }) => {
    requireAdmin(auth.authenticate(req.headers.authorization));
    const after = query.get('after');
    const limit = intQuery(query, 'limit', DEVICE_PAGE.defaultLimit, 1, DEVICE_PAGE.maxLimit);
    const state = ledger.state;
    const ids = state.devices.sortedKeys();
    // First id strictly after `after` (ids are sorted by UTF-16 code units, as sortedKeys sorts).
    let start = 0;
    if (after !== null) while (start < ids.length && ids[start]! <= after) start++;
    const page = ids.slice(start, start + limit);
    const devices = page.map((id) => deviceJson(deviceOf(state, id)!, currentKey(state, id), false));
    const more = start + limit < ids.length;
    sendJson(res, 200, { devices, ...(more ? { next: page[page.length - 1] } : {}) });
  });

  router.get('/v1/devices/:id', ({ req, res, params }) => {
    const id = deviceParam(params.id!);
    const principal = auth.authenticate(req.headers.authorization);
    const state = ledger.state;
    requireDeviceAccess(state, principal, id);
    const device = deviceOf(state, id);
    if (device === undefined) {
      throw new HttpError(404, StateErrorCode.UNKNOWN_DEVICE, `no device ${id} on the ledger`, {
        field: 'id',
      });
    }
    sendJson(res, 200, deviceJson(device, currentKey(state, id), true));
  });
}
