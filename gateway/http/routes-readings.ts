/**
 * A device's verified readings (patient data): only for admins and for clinicians with an
 * access grant for the device on the ledger, checked on every request. As JSON (the verified
 * reading of DESIGN §3, with the device's own COSE bytes) and as FHIR R4 Bundles.
 *
 * FHIR `subject`: medgate knows devices, not patients. A caller that knows which patient wears
 * the device passes `?patient={FHIR id}`; the Observations then name Patient/{id} and claim the
 * vital-signs profiles. Without it they carry the Device reference only (fhir/observation.ts).
 */

import { GatewayErrorCode } from '../errors.js';
import { readingBundle, searchBundle } from '../fhir/bundle.js';
import { requireDeviceAccess } from './auth.js';
import type { ReadingSource, RouteEnv, ServedReading } from './deps.js';
import { deviceParam, fhirIdQuery, intParam, intQuery } from './params.js';
import { HttpError, sendJson } from './respond.js';
import type { RouteContext, Router } from './router.js';

export const READING_PAGE = Object.freeze({ defaultLimit: 100, maxLimit: 1000 });

/** R4 §3.1.0.6: the FHIR JSON media type. */
export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

const MAX_SEQ = Number.MAX_SAFE_INTEGER;

export function readingRoutes(router: Router, { deps, auth }: RouteEnv): void {
  const { ledger } = deps;

  /** Authenticates, checks the grant, and returns the device id and the store. */
  const access = ({ req, params }: RouteContext): { dev: string; store: ReadingSource } => {
    const dev = deviceParam(params.id!);
    const principal = auth.authenticate(req.headers.authorization);
    requireDeviceAccess(ledger.state, principal, dev);
    if (deps.store === undefined) {
      throw new HttpError(503, GatewayErrorCode.READINGS_UNAVAILABLE, 'this gateway keeps no reading store');
    }
    return { dev, store: deps.store };
  };

  const page = async (ctx: RouteContext, store: ReadingSource, dev: string) => {
    // Absent: from the first reading (seq 0 included).
    const afterSeq = ctx.query.has('afterSeq') ? intQuery(ctx.query, 'afterSeq', 0, 0, MAX_SEQ) : undefined;
    const limit = intQuery(ctx.query, 'limit', READING_PAGE.defaultLimit, 1, READING_PAGE.maxLimit);
    const readings = await store.history(dev, afterSeq === undefined ? { limit } : { afterSeq, limit });
    const last = readings[readings.length - 1];
    return {
      readings,
      limit,
      next: readings.length === limit && last !== undefined ? last.seq : undefined,
    };
  };

  const one = async (ctx: RouteContext, store: ReadingSource, dev: string): Promise<ServedReading> => {
    const seq = intParam(ctx.params.seq!, 'seq', 0, MAX_SEQ);
    const reading = await store.get(dev, seq);
    if (reading === undefined) {
      throw new HttpError(
        404,
        GatewayErrorCode.READING_NOT_FOUND,
        `no stored reading ${seq} of device ${dev}`,
        {
          field: 'seq',
        },
      );
    }
    return reading;
  };

  router.get('/v1/devices/:id/readings', async (ctx) => {
    const { dev, store } = access(ctx);
    const { readings, next } = await page(ctx, store, dev);
    sendJson(ctx.res, 200, { readings, ...(next === undefined ? {} : { next }) });
  });

  router.get('/v1/devices/:id/readings/:seq', async (ctx) => {
    const { dev, store } = access(ctx);
    sendJson(ctx.res, 200, await one(ctx, store, dev));
  });

  router.get('/v1/devices/:id/readings/:seq/fhir', async (ctx) => {
    const { dev, store } = access(ctx);
    const patient = fhirIdQuery(ctx.query, 'patient');
    const reading = await one(ctx, store, dev);
    sendJson(ctx.res, 200, readingBundle(reading, patient === undefined ? {} : { patient }), FHIR_JSON);
  });

  router.get('/v1/devices/:id/observations', async (ctx) => {
    const { dev, store } = access(ctx);
    const patient = fhirIdQuery(ctx.query, 'patient');
    const { readings, limit, next } = await page(ctx, store, dev);
    const link = (afterSeq: number) => {
      const q = new URLSearchParams({ afterSeq: String(afterSeq), limit: String(limit) });
      if (patient !== undefined) q.set('patient', patient);
      return `${ctx.url.pathname}?${q}`;
    };
    sendJson(
      ctx.res,
      200,
      searchBundle(readings, {
        ...(patient === undefined ? {} : { patient }),
        self: `${ctx.url.pathname}${ctx.url.search}`,
        ...(next === undefined ? {} : { next: link(next) }),
      }),
      FHIR_JSON,
    );
  });
}
