/**
 * Firmware attack modes. Each asks the gateway for something it must not serve (its answer is
 * a `fw.rejected` event), then shows the device's own defence with a scratch agent: the same
 * agent code, trust bundle, key and model as the device, on in-memory slots, whose reports are
 * not published, so the attack never changes the device's firmware or the rollout's record.
 *
 * - tamper-fw: a chunk request for an image no rollout offers (gateway), an offer of arbitrary
 *   software signed by strangers (MG_ERR_UPDATE_BAD_BLOCK), and, when a genuine offer is
 *   retained for the device, that update with one byte of the image flipped in transit
 *   (MG_ERR_UPDATE_BAD_DIGEST).
 * - downgrade: a chunk request for the older factory image (gateway), and the genuine offer shown
 *   to a device that already runs a newer seq (MG_ERR_UPDATE_ROLLBACK) or the same one
 *   (MG_ERR_UPDATE_ALREADY_INSTALLED).
 */
import { randomBytes } from 'node:crypto';
import { UpdateAgent } from '../../firmware-ts/agent/agent.js';
import type { ChunkTransport } from '../../firmware-ts/agent/download.js';
import { UpdateErrorCode as U } from '../../firmware-ts/agent/errors.js';
import { MemoryKeyValue, MemorySlots } from '../../firmware-ts/agent/slots.js';
import { sha256 } from '../../firmware-ts/protocol/hash.js';
import { decodeManifestCose } from '../../firmware-ts/protocol/tx/sign.js';
import {
  decodeChunk,
  decodeOffer,
  encodeChunk,
  encodeChunkRequest,
} from '../../firmware-ts/protocol/update/index.js';
import { type AttackContext, report, withAttacker } from '../attacks/context.js';
import type { AgentFirmware } from './agent-module.js';
import { FACTORY_SEQ, factoryImage } from './factory.js';
import { forgedOffer } from './forged-offer.js';

const SCRATCH_SLOT_BYTES = 4 * 1024 * 1024;

async function askForImage(
  ctx: AttackContext,
  fw: AgentFirmware,
  digest: Uint8Array,
  what: string,
): Promise<void> {
  const rejected = ctx.attacker.nextEvent((e) => e.type === 'fw.rejected', 5_000);
  const request = { digest, offset: 0, len: 1024 };
  // Through the device's own transport: a reply for this digest would come back here.
  const served = fw.transport.request(encodeChunkRequest(request), request).then(
    () => 'the gateway served image data',
    (err: Error) => `no data (${err.message})`,
  );
  const answer = await Promise.race([served, rejected.then((e) => e)]);
  const event = typeof answer === 'string' ? undefined : answer;
  report(ctx, `ask the gateway for ${what}`, 'fw.rejected, no data', {
    answer:
      event !== undefined
        ? `fw.rejected ${String(event.code)}`
        : ((answer as string | undefined) ?? 'no answer'),
    ok: event !== undefined,
  });
}

function scratchAgent(
  fw: AgentFirmware,
  factorySeq: number,
  transport: ChunkTransport,
): Promise<UpdateAgent> {
  return UpdateAgent.create({
    ...fw.base,
    factorySeq,
    selfTest: async () => true,
    slots: new MemorySlots(SCRATCH_SLOT_BYTES, { image: factoryImage(fw.base.model) }),
    kv: new MemoryKeyValue(),
    transport,
    report: () => {}, // a scratch agent's reports are not the device's: never published
    limits: { chunkTimeoutMs: 10_000, totalTimeoutMs: 60_000 },
  });
}

async function deviceCheck(
  ctx: AttackContext,
  agent: UpdateAgent,
  offer: Uint8Array,
  step: string,
  expect: string,
): Promise<void> {
  const outcome = await agent.handleOffer(offer);
  report(ctx, step, expect, {
    answer: `device ${outcome.status}${outcome.code ? ` ${outcome.code}` : ''}, stays on seq ${outcome.seq}`,
    ok: outcome.status === 'refused' && outcome.code === expect,
  });
}

/** The genuine offer retained for this device, if a rollout targets it (it arrives on subscribe). */
async function genuineOffer(fw: AgentFirmware): Promise<{ bytes: Uint8Array; seq: number } | undefined> {
  for (let i = 0; i < 20 && fw.lastOffer === undefined; i++) await new Promise((r) => setTimeout(r, 100));
  if (fw.lastOffer === undefined) return undefined;
  try {
    return { bytes: fw.lastOffer, seq: decodeManifestCose(decodeOffer(fw.lastOffer).manifest).manifest.seq };
  } catch {
    return undefined;
  }
}

export function tamperFirmwareAttack(ctx: AttackContext, fw: AgentFirmware): Promise<void> {
  return withAttacker(ctx, async () => {
    fw.attacking = true;
    try {
      await askForImage(ctx, fw, new Uint8Array(randomBytes(32)), 'an image no rollout offers it');
      const vendor = fw.options.bundle.vendors.find((v) => v.models.includes(fw.base.model))?.id ?? 'acme';
      await deviceCheck(
        ctx,
        await scratchAgent(fw, FACTORY_SEQ, fw.transport),
        forgedOffer(ctx.chain, fw.base.deviceId, fw.base.model, vendor),
        'offer of arbitrary software signed by strangers (vendor, admins, authority)',
        U.BAD_BLOCK,
      );
      const genuine = await genuineOffer(fw);
      if (genuine === undefined) {
        report(ctx, 'genuine update with a byte flipped in transit', U.BAD_DIGEST, {
          answer: 'skipped: no rollout offers this device now',
          ok: true,
        });
        return;
      }
      let flipped = false;
      const tampering: ChunkTransport = {
        async request(message, request) {
          const reply = await fw.transport.request(message, request);
          if (flipped) return reply;
          flipped = true;
          const chunk = decodeChunk(reply);
          const data = chunk.data.slice();
          data[0] = (data[0] ?? 0) ^ 0xff;
          return encodeChunk({ ...chunk, data });
        },
      };
      await deviceCheck(
        ctx,
        await scratchAgent(fw, FACTORY_SEQ, tampering),
        genuine.bytes,
        `genuine update (seq ${genuine.seq}) with one image byte flipped in transit`,
        U.BAD_DIGEST,
      );
    } finally {
      fw.attacking = false;
    }
  });
}

export function downgradeAttack(ctx: AttackContext, fw: AgentFirmware): Promise<void> {
  return withAttacker(ctx, async () => {
    fw.attacking = true;
    try {
      await askForImage(
        ctx,
        fw,
        sha256(factoryImage(fw.base.model)),
        `the older factory image (seq ${FACTORY_SEQ})`,
      );
      const genuine = await genuineOffer(fw);
      if (genuine === undefined) {
        report(ctx, 'genuine older release offered to a device on a newer seq', U.ROLLBACK, {
          answer: 'skipped: no rollout offers this device now',
          ok: true,
        });
        return;
      }
      await deviceCheck(
        ctx,
        await scratchAgent(fw, genuine.seq + 1, fw.transport),
        genuine.bytes,
        `genuine release seq ${genuine.seq} offered to a device running seq ${genuine.seq + 1}`,
        U.ROLLBACK,
      );
      await deviceCheck(
        ctx,
        await scratchAgent(fw, genuine.seq, fw.transport),
        genuine.bytes,
        `the same release seq ${genuine.seq} offered again`,
        U.ALREADY_INSTALLED,
      );
    } finally {
      fw.attacking = false;
    }
  });
}
