/**
 * Firmware images and rollouts (DESIGN §5, docs/http-api.md):
 *
 * - `POST /v1/firmware/{digest}` (admins): the image bytes (`application/octet-stream`) of a
 *   release already on the ledger, stored content-addressed under DIR/firmware/ once its size
 *   and SHA-256 match the vendor-signed manifest. The image is not a transaction: it needs an
 *   admin token, and it is only ever served to devices a rollout targets.
 * - `GET /v1/firmware/{digest}`: whether the gateway holds the image, and the releases naming it.
 * - `GET /v1/rollouts`, `GET /v1/rollouts/{id}`: every rollout, and one rollout's plan (each
 *   device's state, counts per wave) from the wave planner; a proposed but not yet authorised
 *   rollout shows its proposal's approvals. Public, like proposals: it is all on the ledger.
 */
import { equalBytes, toHex } from '../../firmware-ts/protocol/bytes.js';
import { isMedgateError } from '../../firmware-ts/protocol/errors.js';
import { GatewayErrorCode } from '../errors.js';
import { StateErrorCode } from '../ledger/state/errors.js';
import { proposalOf, rolloutsOf } from '../ledger/state/queries.js';
import type { Release, Rollout, State } from '../ledger/state/state.js';
import { ImageStore } from '../updates/image-store.js';
import { planRollout, type RolloutPlan } from '../updates/planner.js';
import { requireAdmin } from './auth.js';
import { mediaType } from './body.js';
import type { RouteEnv } from './deps.js';
import { plain, stampJson } from './json.js';
import { hashParam } from './params.js';
import { HttpError, sendJson } from './respond.js';
import type { Router } from './router.js';
import { proposalJson } from './routes-ledger.js';

export const IMAGE_MEDIA_TYPE = 'application/octet-stream';

function releasesWith(state: State, digest: Uint8Array): Release[] {
  return [...state.releases.values()].filter((r) => equalBytes(r.digest, digest));
}

function releaseJson(release: Release): Record<string, unknown> {
  const { id, vendor, model, seq, version, digest, size, created, at } = release;
  return { id, vendor, model, seq, version, digest: toHex(digest), size, created, at: stampJson(at) };
}

export function rolloutPlanJson(plan: RolloutPlan, release: Release | undefined): Record<string, unknown> {
  const r = plan.rollout;
  return {
    id: r.id,
    status: plan.status,
    time: plan.time,
    release: release === undefined ? { id: r.release } : releaseJson(release),
    model: r.model,
    target: plain(r.target),
    notBefore: r.notBefore,
    expires: r.expires,
    waveSizes: r.waves,
    maxFailures: r.maxFailures,
    authorized: stampJson(r.authorized),
    ...(r.halted === undefined
      ? {}
      : { halted: { by: r.halted.by, reason: r.halted.reason, at: stampJson(r.halted.at) } }),
    confirmed: r.confirmed,
    failures: r.failures,
    waves: plan.waves.map((w) => ({
      index: w.index,
      size: w.size,
      open: w.open,
      devices: w.devices,
      counts: w.counts,
    })),
    devices: plan.devices.map((d) => ({
      id: d.dev,
      wave: d.wave,
      state: d.phase,
      offered: d.offered,
      ...(d.report === undefined
        ? {}
        : {
            seq: d.report.seq,
            ...(d.report.error === undefined ? {} : { error: d.report.error }),
            at: stampJson(d.report.at),
          }),
    })),
  };
}

function summaryJson(state: State, rollout: Rollout, time: number): Record<string, unknown> {
  const plan = planRollout(state, rollout, time);
  const release = state.releases.get(rollout.release);
  return {
    id: rollout.id,
    status: plan.status,
    model: rollout.model,
    release: rollout.release,
    version: release?.version,
    devices: plan.devices.length,
    confirmed: rollout.confirmed,
    failures: rollout.failures,
  };
}

export function firmwareRoutes(router: Router, { deps, auth }: RouteEnv): void {
  const { ledger, log } = deps;
  let store: Promise<ImageStore> | undefined;
  const images = (): Promise<ImageStore> => {
    store ??= ImageStore.open(ledger.path);
    return store;
  };

  router.post('/v1/firmware/:digest', async ({ req, res, params }) => {
    requireAdmin(auth.authenticate(req.headers.authorization));
    const digest = hashParam(params.digest!, 'digest');
    const type = mediaType(req);
    if (type !== IMAGE_MEDIA_TYPE) {
      throw new HttpError(
        415,
        GatewayErrorCode.HTTP_UNSUPPORTED_MEDIA_TYPE,
        `Content-Type must be ${IMAGE_MEDIA_TYPE}`,
        {
          got: type.slice(0, 64),
        },
      );
    }
    const [release] = releasesWith(ledger.state, digest);
    if (release === undefined) {
      req.resume();
      throw new HttpError(
        409,
        GatewayErrorCode.FW_NOT_RELEASED,
        `no release on the ledger has digest ${toHex(digest)}`,
        {
          field: 'digest',
        },
      );
    }
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) !== release.size) {
      req.resume();
      // The answer closes the connection: the rest of the upload is not worth reading.
      throw new HttpError(
        413,
        GatewayErrorCode.FW_IMAGE_MISMATCH,
        `the manifest says ${release.size} bytes`,
        {
          field: 'content-length',
          got: Number(declared),
          want: release.size,
        },
      );
    }
    let result: Awaited<ReturnType<ImageStore['put']>>;
    try {
      result = await (await images()).put(req, { digest, size: release.size });
    } catch (err) {
      if (isMedgateError(err) && err.code === GatewayErrorCode.FW_IMAGE_MISMATCH) {
        throw new HttpError(400, GatewayErrorCode.FW_IMAGE_MISMATCH, err.message, {
          field: 'body',
          cause: err,
        });
      }
      throw err;
    }
    log.info({ release: release.id, size: release.size, result }, 'firmware image uploaded');
    sendJson(res, result === 'stored' ? 201 : 200, { digest: toHex(digest), size: release.size, result });
  });

  router.get('/v1/firmware/:digest', async ({ res, params }) => {
    const digest = hashParam(params.digest!, 'digest');
    const releases = releasesWith(ledger.state, digest);
    const size = await (await images()).size(digest);
    sendJson(res, 200, {
      digest: toHex(digest),
      stored: size !== undefined,
      ...(size === undefined ? {} : { size }),
      releases: releases.map(releaseJson),
    });
  });

  router.get('/v1/rollouts', ({ res }) => {
    const state = ledger.state;
    const time = ledger.tip.header.t;
    sendJson(res, 200, { rollouts: rolloutsOf(state).map((r) => summaryJson(state, r, time)) });
  });

  router.get('/v1/rollouts/:id', ({ res, params }) => {
    const id = toHex(hashParam(params.id!, 'id'));
    const state = ledger.state;
    const rollout = state.rollouts.get(id);
    if (rollout !== undefined) {
      const plan = planRollout(state, rollout, ledger.tip.header.t);
      sendJson(res, 200, rolloutPlanJson(plan, state.releases.get(rollout.release)));
      return;
    }
    // Not authorised yet: a rollout proposal still collecting approvals.
    const view = proposalOf(state, id);
    if (view?.proposal.action.type === 'rollout.authorize') {
      sendJson(res, 200, { id, status: 'proposed', proposal: proposalJson(view) });
      return;
    }
    throw new HttpError(404, StateErrorCode.UNKNOWN_ROLLOUT, `no rollout ${id}`, { field: 'id' });
  });
}
