/**
 * Identifiers (DESIGN §3: 1 to 64 of A-Za-z0-9._-) and the v1 MQTT topics: builders,
 * filters, and parseTopic's refusals.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MedgateError, ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import {
  assertDeviceId,
  assertModelId,
  DEVICE_ID_PATTERN,
  formatPrincipal,
  ID_PATTERN,
  isDeviceId,
  isModelId,
  PRINCIPAL_PATTERN,
  parsePrincipal,
  RESERVED_DEVICE_IDS,
  toPrincipal,
} from '../../firmware-ts/protocol/ids.js';
import {
  eventsTopic,
  formatTopic,
  fwTopic,
  MAX_TOPIC_LENGTH,
  parseTopic,
  SECURITY_TOPIC,
  TOPIC_FILTERS,
  TOPIC_PREFIX,
  type Topic,
  telemetryTopic,
  updateStatusTopic,
  updateTopic,
  verifiedTopic,
} from '../../firmware-ts/protocol/topics.js';

const C = ProtocolErrorCode;

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (err instanceof MedgateError) return err.code;
    throw err;
  }
  throw new Error('expected a MedgateError, but nothing was thrown');
}

const idChar = fc.constantFrom(...'ABCXYZabcxyz0189._-');
const anyId = fc.string({ unit: idChar, minLength: 1, maxLength: 64 });

describe('device ids', () => {
  it.each(['a', 'Z', '0', 'bed-12', 'ward_3.monitor', 'x'.repeat(64), '...', '.hidden', 'enrol2', 'Enrol'])(
    'accepts %j',
    (id) => {
      expect(isDeviceId(id)).toBe(true);
      expect(assertDeviceId(id)).toBe(id);
    },
  );

  it.each([
    '',
    'x'.repeat(65),
    'bed 12',
    'a/b',
    '+',
    '#',
    'admin:alice',
    'é',
    'a\u0000',
    '.',
    '..',
    'enrol',
    'bed\n',
  ])('refuses %j with MG_ERR_BAD_DEVICE_ID', (id) => {
    expect(isDeviceId(id)).toBe(false);
    expect(codeOf(() => assertDeviceId(id))).toBe(C.BAD_DEVICE_ID);
  });

  it('refuses non-strings and names the argument', () => {
    for (const id of [null, undefined, 1, ['a'], { id: 'a' }]) {
      expect(isDeviceId(id)).toBe(false);
      expect(codeOf(() => assertDeviceId(id))).toBe(C.BAD_DEVICE_ID);
    }
    try {
      assertDeviceId('a b', 'clientId');
    } catch (err) {
      expect((err as MedgateError).field).toBe('clientId');
    }
  });

  it('DEVICE_ID_PATTERN is ID_PATTERN minus the reserved ids', () => {
    fc.assert(
      fc.property(fc.oneof(anyId, fc.constantFrom(...RESERVED_DEVICE_IDS, '.', '..', '')), (id) => {
        expect(DEVICE_ID_PATTERN.test(id)).toBe(ID_PATTERN.test(id) && !RESERVED_DEVICE_IDS.includes(id));
      }),
      { numRuns: 500 },
    );
  });
});

describe('model ids', () => {
  it('use the id alphabet; "enrol" is a fine model id', () => {
    expect(isModelId('acme.gluco-2')).toBe(true);
    expect(assertModelId('enrol')).toBe('enrol');
    expect(codeOf(() => assertModelId('acme gluco'))).toBe(C.BAD_FIELD);
    expect(codeOf(() => assertModelId('..'))).toBe(C.BAD_FIELD);
    expect(codeOf(() => assertModelId(7))).toBe(C.BAD_FIELD);
  });
});

describe('principals', () => {
  it.each([
    ['pump-7', 'device', 'pump-7'],
    ['admin:alice', 'admin', 'alice'],
    ['clinician:dr.who', 'clinician', 'dr.who'],
    ['admin:enrol', 'admin', 'enrol'],
    [`clinician:${'c'.repeat(64)}`, 'clinician', 'c'.repeat(64)],
  ] as const)('%s → %s %s', (text, role, id) => {
    expect(parsePrincipal(text)).toEqual({ role, id });
    expect(formatPrincipal({ role, id })).toBe(text);
    expect(PRINCIPAL_PATTERN.test(text)).toBe(true);
  });

  it.each([
    '',
    'admin:',
    'root:alice',
    'Admin:alice',
    'admin:a:b',
    'admin:clinician:x',
    'admin:..',
    'clinician:a b',
    `admin:${'a'.repeat(65)}`,
    'enrol',
    ':alice',
  ])('refuses %j with MG_ERR_BAD_DEVICE_ID', (text) => {
    expect(codeOf(() => parsePrincipal(text))).toBe(C.BAD_DEVICE_ID);
    expect(toPrincipal(text)).toBeUndefined();
    expect(PRINCIPAL_PATTERN.test(text)).toBe(false);
  });

  it('admin is a valid device id, distinct from the admin role', () => {
    expect(parsePrincipal('admin')).toEqual({ role: 'device', id: 'admin' });
  });

  it('PRINCIPAL_PATTERN agrees with parsePrincipal on generated ids', () => {
    const text = fc.oneof(
      anyId,
      anyId.map((id) => `admin:${id}`),
      anyId.map((id) => `clinician:${id}`),
      fc.string({ maxLength: 80 }),
    );
    fc.assert(
      fc.property(text, (t) => {
        expect(PRINCIPAL_PATTERN.test(t)).toBe(toPrincipal(t) !== undefined);
      }),
      { numRuns: 1000 },
    );
  });

  it('formatPrincipal refuses bad roles and ids', () => {
    expect(codeOf(() => formatPrincipal({ role: 'root' as 'admin', id: 'x' }))).toBe(C.BAD_ARGUMENT);
    expect(codeOf(() => formatPrincipal({ role: 'device', id: 'enrol' }))).toBe(C.BAD_DEVICE_ID);
    expect(codeOf(() => formatPrincipal({ role: 'admin', id: 'a b' }))).toBe(C.BAD_DEVICE_ID);
  });
});

describe('topic builders and parseTopic', () => {
  it('builds each v1 topic and parses it back', () => {
    const cases: [string, Topic][] = [
      [telemetryTopic('bed-12'), { kind: 'telemetry', deviceId: 'bed-12' }],
      [eventsTopic('bed-12'), { kind: 'events', deviceId: 'bed-12' }],
      [updateTopic('bed-12'), { kind: 'update', deviceId: 'bed-12' }],
      [updateStatusTopic('bed-12'), { kind: 'updateStatus', deviceId: 'bed-12' }],
      [
        fwTopic('bed-12', 'abc123', 'chunk', '7'),
        { kind: 'fw', deviceId: 'bed-12', rest: ['abc123', 'chunk', '7'] },
      ],
      [verifiedTopic('bed-12'), { kind: 'verified', deviceId: 'bed-12' }],
      [SECURITY_TOPIC, { kind: 'security' }],
    ];
    expect(cases.map(([topic]) => topic)).toEqual([
      'mg/v1/dev/bed-12/telemetry',
      'mg/v1/dev/bed-12/events',
      'mg/v1/dev/bed-12/update',
      'mg/v1/dev/bed-12/update/status',
      'mg/v1/dev/bed-12/fw/abc123/chunk/7',
      'mg/v1/verified/bed-12',
      'mg/v1/security',
    ]);
    for (const [topic, parsed] of cases) {
      expect(parseTopic(topic)).toEqual(parsed);
      expect(Object.isFrozen(parseTopic(topic))).toBe(true);
      expect(formatTopic(parsed)).toBe(topic);
    }
    expect(TOPIC_PREFIX).toBe('mg/v1');
  });

  it('exports the subscription filters', () => {
    expect(TOPIC_FILTERS).toEqual({
      telemetry: 'mg/v1/dev/+/telemetry',
      events: 'mg/v1/dev/+/events',
      update: 'mg/v1/dev/+/update',
      updateStatus: 'mg/v1/dev/+/update/status',
      fw: 'mg/v1/dev/+/fw/#',
      verified: 'mg/v1/verified/+',
      security: 'mg/v1/security',
    });
    expect(Object.isFrozen(TOPIC_FILTERS)).toBe(true);
  });

  it('builders refuse bad device ids and fw levels', () => {
    expect(codeOf(() => telemetryTopic('a/b'))).toBe(C.BAD_DEVICE_ID);
    expect(codeOf(() => verifiedTopic('+'))).toBe(C.BAD_DEVICE_ID);
    expect(codeOf(() => eventsTopic('enrol'))).toBe(C.BAD_DEVICE_ID);
    expect(codeOf(() => fwTopic('bed-12'))).toBe(C.BAD_TOPIC);
    expect(codeOf(() => fwTopic('bed-12', 'a', 'b', 'c', 'd', 'e'))).toBe(C.BAD_TOPIC);
    expect(codeOf(() => fwTopic('bed-12', 'a/b'))).toBe(C.BAD_TOPIC);
    expect(codeOf(() => fwTopic('bed-12', '#'))).toBe(C.BAD_TOPIC);
    expect(codeOf(() => fwTopic('bed-12', '..'))).toBe(C.BAD_TOPIC);
    expect(codeOf(() => fwTopic('x'.repeat(64), ...Array(4).fill('y'.repeat(64))))).toBe(C.BAD_TOPIC);
    expect(codeOf(() => formatTopic({ kind: 'nope' } as unknown as Topic))).toBe(C.BAD_TOPIC);
  });

  it('accepts fw topics of 1 to 4 levels, up to the length limit', () => {
    expect(parseTopic('mg/v1/dev/d/fw/a')).toEqual({ kind: 'fw', deviceId: 'd', rest: ['a'] });
    expect(parseTopic('mg/v1/dev/d/fw/a/b/c/d')).toEqual({
      kind: 'fw',
      deviceId: 'd',
      rest: ['a', 'b', 'c', 'd'],
    });
    const longest = `mg/v1/dev/d/fw/${'x'.repeat(MAX_TOPIC_LENGTH - 'mg/v1/dev/d/fw/'.length)}`;
    expect(longest).toHaveLength(MAX_TOPIC_LENGTH);
    expect(parseTopic(`mg/v1/dev/d/fw/${'x'.repeat(64)}`)).toMatchObject({ kind: 'fw' });
    expect(codeOf(() => parseTopic(`${longest}x`))).toBe(C.BAD_TOPIC);
  });

  it.each([
    ['empty', ''],
    ['too long', `mg/v1/dev/${'a'.repeat(64)}/fw/${'b/'.repeat(100)}c`],
    ['single-level wildcard', 'mg/v1/dev/+/telemetry'],
    ['multi-level wildcard', 'mg/v1/dev/bed-12/#'],
    ['wildcard inside a level', 'mg/v1/dev/bed+12/telemetry'],
    ['$SYS', '$SYS/broker/clients'],
    ['$ prefix', '$mg/v1/security'],
    ['leading slash', '/mg/v1/security'],
    ['trailing slash', 'mg/v1/security/'],
    ['empty level', 'mg/v1//security'],
    ['double slash in device topic', 'mg/v1/dev//telemetry'],
    ['wrong version', 'mg/v2/security'],
    ['wrong prefix', 'mq/v1/security'],
    ['upper case', 'MG/v1/security'],
    ['prefix alone', 'mg/v1'],
    ['unknown area', 'mg/v1/admin'],
    ['security with more', 'mg/v1/security/x'],
    ['verified without id', 'mg/v1/verified'],
    ['verified with more', 'mg/v1/verified/bed-12/x'],
    ['verified bad id', 'mg/v1/verified/bed 12'],
    ['device topic without kind', 'mg/v1/dev/bed-12'],
    ['device without id', 'mg/v1/dev'],
    ['unknown device topic', 'mg/v1/dev/bed-12/commands'],
    ['telemetry with more', 'mg/v1/dev/bed-12/telemetry/x'],
    ['update/other', 'mg/v1/dev/bed-12/update/other'],
    ['update/status/more', 'mg/v1/dev/bed-12/update/status/x'],
    ['fw without levels', 'mg/v1/dev/bed-12/fw'],
    ['fw with 5 levels', 'mg/v1/dev/bed-12/fw/a/b/c/d/e'],
    ['fw level ..', 'mg/v1/dev/bed-12/fw/..'],
    ['fw level with a space', 'mg/v1/dev/bed-12/fw/a b'],
    ['fw level of 65', `mg/v1/dev/bed-12/fw/${'a'.repeat(65)}`],
    ['reserved device id', 'mg/v1/dev/enrol/telemetry'],
    ['device id ..', 'mg/v1/dev/../telemetry'],
    ['principal as device', 'mg/v1/dev/admin:alice/telemetry'],
    ['device id of 65', `mg/v1/dev/${'a'.repeat(65)}/telemetry`],
    ['NUL character', 'mg/v1/dev/a\u0000/telemetry'],
    ['non-ASCII id', 'mg/v1/dev/bédside/telemetry'],
    ['case of kind', 'mg/v1/dev/bed-12/Telemetry'],
  ])('refuses %s', (_what, topic) => {
    expect(codeOf(() => parseTopic(topic))).toBe(C.BAD_TOPIC);
  });

  it('refuses non-strings', () => {
    for (const topic of [null, undefined, 1, ['mg', 'v1'], new Uint8Array(3), { kind: 'security' }]) {
      expect(codeOf(() => parseTopic(topic))).toBe(C.BAD_TOPIC);
    }
  });

  it('formatTopic(parseTopic(t)) is t for generated device topics', () => {
    const kind = fc.constantFrom('telemetry', 'events', 'update', 'update/status');
    const id = anyId.filter((s) => DEVICE_ID_PATTERN.test(s));
    fc.assert(
      fc.property(id, kind, (deviceId, suffix) => {
        const topic = `mg/v1/dev/${deviceId}/${suffix}`;
        const parsed = parseTopic(topic);
        expect(parsed).toMatchObject({ deviceId });
        expect(formatTopic(parsed)).toBe(topic);
      }),
      { numRuns: 500 },
    );
  });
});
