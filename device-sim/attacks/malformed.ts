/**
 * Malformed payloads: bytes that are not COSE, a validly signed COSE whose payload is not a
 * reading, and readings the vitals catalogue refuses (unknown LOINC code, impossible value).
 * Each is refused with its code; the connection stays open.
 */
import { encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { chainAad, signCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { ProtocolErrorCode as P } from '../../firmware-ts/protocol/errors.js';
import { type AttackContext, expectCode, publishForAnswer, report, withAttacker } from './context.js';
import { craft } from './readings.js';

export function malformedAttack(ctx: AttackContext): Promise<void> {
  return withAttacker(ctx, async (client) => {
    const junk = new TextEncoder().encode('{"dev":"not cbor","seq":1}');
    report(
      ctx,
      'JSON text instead of a COSE_Sign1',
      P.COSE_MALFORMED,
      expectCode(await publishForAnswer(ctx, client, junk), [P.COSE_MALFORMED]),
    );

    const notReading = signCoseSign1(
      encodeCbor(new Map<string, unknown>([['hello', 'world']])),
      ctx.attacker.key.signer,
      chainAad(ctx.chain),
    );
    const fieldCodes = [P.MISSING_FIELD, P.UNKNOWN_FIELD, P.BAD_FIELD];
    report(
      ctx,
      'a signed COSE_Sign1 whose payload is not a reading',
      fieldCodes.join('|'),
      expectCode(await publishForAnswer(ctx, client, notReading), fieldCodes),
    );

    const unknownCode = await craft(ctx, { obs: [{ code: '1234-5', v: 1, u: '/min' }] });
    report(
      ctx,
      `reading seq ${unknownCode.reading.seq} with an unknown LOINC code`,
      P.UNKNOWN_CODE,
      expectCode(await publishForAnswer(ctx, client, unknownCode.bytes), [P.UNKNOWN_CODE]),
    );

    const impossible = await craft(ctx, { obs: [{ code: '8867-4', v: 999, u: '/min' }] });
    report(
      ctx,
      `reading seq ${impossible.reading.seq} with heart rate 999 /min`,
      P.IMPLAUSIBLE_VALUE,
      expectCode(await publishForAnswer(ctx, client, impossible.bytes), [P.IMPLAUSIBLE_VALUE]),
    );
  });
}
