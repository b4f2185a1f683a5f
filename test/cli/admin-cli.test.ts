/**
 * The admin CLI as a fleet admin runs it (DESIGN §7): each command signs with the admin's own
 * key file and goes through the gateway's HTTP API (real ledger and server on loopback), in
 * this process through `main(argv)`. Exit codes: 0 done, 1 refused (the code is printed),
 * 2 bad usage.
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { currentKey, hasAccess } from '../../gateway/ledger/state/queries.js';
import { type Harness, removeTempDirs, startHarness } from '../gateway/http-harness.js';
import { medgate } from '../support/cli.js';

describe('medgate device / clinician / policy / proposal over the HTTP API', () => {
  let h: Harness;
  let keys: string;
  /** `--gateway URL --admin-key FILE` of an admin. */
  let as: (admin: string) => string[];

  beforeAll(async () => {
    h = await startHarness();
    keys = join(h.dir, 'demo-keys');
    as = (admin) => ['--gateway', h.base, '--admin-key', join(keys, `admin-${admin}.key`)];
  });

  afterEach(() => vi.unstubAllEnvs());

  afterAll(async () => {
    await h.close();
    await removeTempDirs();
  });

  it('enrols devices from a PEM file and from hex', async () => {
    const run = await medgate(
      'device',
      'enrol',
      'wearable-001',
      '--pub',
      join(keys, 'device-wearable-001.pub'),
      '--model',
      'wearable-v1',
      ...as('alice'),
    );
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(
      /^device wearable-001 \(wearable-v1\) enrolled by admin:alice, kid [0-9a-f]{32} \(block \d+, tx [0-9a-f]{16}\)\n$/,
    );
    expect(h.ledger.state.devices.get('wearable-001')).toMatchObject({
      status: 'active',
      enrolledBy: 'admin:alice',
    });

    const hex = toHex(h.key('bp-cuff-001').pub);
    const json = await medgate(
      'device',
      'enrol',
      'bp-cuff-001',
      '--pub',
      hex,
      '--model',
      'bp-cuff-v1',
      '--json',
      ...as('bob'),
    );
    expect(json.code, json.err).toBe(0);
    const result = JSON.parse(json.out) as { txId: string; height: number; type: string };
    expect(result.type).toBe('device.enrol');
    expect(result.height).toBe(h.ledger.tip.header.height);
    expect(h.ledger.state.devices.get('bp-cuff-001')?.enrolledBy).toBe('admin:bob');
  });

  it('shows and lists devices with an admin token', async () => {
    const show = await medgate('device', 'show', 'wearable-001', '--json', ...as('carol'));
    expect(show.code, show.err).toBe(0);
    const d = JSON.parse(show.out) as { status: string; model: string; key: { kid: string; pem: string } };
    expect(d).toMatchObject({ status: 'active', model: 'wearable-v1' });
    expect(d.key.kid).toBe(toHex(h.key('wearable-001').signer.kid));
    expect(d.key.pem).toContain('BEGIN PUBLIC KEY');

    const human = await medgate('device', 'show', 'wearable-001', ...as('carol'));
    expect(human.out).toContain('status   active');

    const list = await medgate('device', 'list', ...as('alice'));
    expect(list.code, list.err).toBe(0);
    const lines = list.out.trimEnd().split('\n');
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(['bp-cuff-001', 'wearable-001']);
    const listJson = JSON.parse((await medgate('device', 'list', '--json', ...as('alice'))).out) as {
      devices: { id: string }[];
    };
    expect(listJson.devices).toHaveLength(2);
  });

  it('revokes a device', async () => {
    await medgate(
      'device',
      'enrol',
      'wearable-002',
      '--pub',
      join(keys, 'device-wearable-002.pub'),
      '--model',
      'wearable-v1',
      ...as('alice'),
    );
    const run = await medgate('device', 'revoke', 'wearable-002', '--reason', 'lost', ...as('alice'));
    expect(run.code, run.err).toBe(0);
    expect(run.out).toContain('device wearable-002 revoked');
    expect(h.ledger.state.devices.get('wearable-002')?.status).toBe('revoked');
    const show = JSON.parse((await medgate('device', 'show', 'wearable-002', '--json', ...as('alice'))).out);
    expect(show).toMatchObject({ status: 'revoked', key: null });
  });

  it("rotates a device's key with its old and new key files", async () => {
    const prefix = join(h.dir, 'wearable-001-next');
    expect((await medgate('keygen', '--out', prefix)).code).toBe(0);
    const run = await medgate(
      'device',
      'rotate',
      'wearable-001',
      '--key',
      join(keys, 'device-wearable-001.key'),
      '--new-key',
      `${prefix}.key`,
      '--gateway',
      h.base,
      '--json',
    );
    expect(run.code, run.err).toBe(0);
    const { kid } = JSON.parse(run.out) as { kid: string };
    expect(currentKey(h.ledger.state, 'wearable-001')?.kid).toBe(kid);
    expect(kid).not.toBe(toHex(h.key('wearable-001').signer.kid));
    // The old key no longer signs for the device.
    const again = await medgate(
      'device',
      'rotate',
      'wearable-001',
      '--key',
      join(keys, 'device-wearable-001.key'),
      '--new-key',
      `${prefix}.key`,
      '--gateway',
      h.base,
    );
    expect(again.code).toBe(1);
    expect(again.err).toContain('MG_ERR_COSE_KID_MISMATCH');
  });

  it('registers a clinician, grants and revokes access', async () => {
    const add = await medgate(
      'clinician',
      'add',
      'dr-lee',
      '--pub',
      join(keys, 'clinician-dr-lee.pub'),
      ...as('alice'),
    );
    expect(add.code, add.err).toBe(0);
    expect(h.ledger.state.clinicians.has('dr-lee')).toBe(true);
    const grant = await medgate(
      'clinician',
      'grant',
      'clinician:dr-lee',
      'wearable-001',
      'bp-cuff-001',
      ...as('bob'),
    );
    expect(grant.code, grant.err).toBe(0);
    expect(grant.out).toContain('clinician:dr-lee may read wearable-001, bp-cuff-001');
    expect(hasAccess(h.ledger.state, 'dr-lee', 'bp-cuff-001')).toBe(true);
    const revoke = await medgate('clinician', 'revoke', 'dr-lee', 'bp-cuff-001', ...as('bob'));
    expect(revoke.code, revoke.err).toBe(0);
    expect(hasAccess(h.ledger.state, 'dr-lee', 'bp-cuff-001')).toBe(false);
    expect(hasAccess(h.ledger.state, 'dr-lee', 'wearable-001')).toBe(true);
  });

  it('sets a policy through a proposal that a second admin approves (2 of 3)', async () => {
    const set = await medgate(
      'policy',
      'set',
      'bp-cuff-v1',
      '--approvals',
      '3',
      '--enrolment',
      'auto',
      '--json',
      ...as('alice'),
    );
    expect(set.code, set.err).toBe(0);
    const { proposal } = JSON.parse(set.out) as {
      proposal: { id: string; approvals: number; required: number; status: string };
    };
    expect(proposal).toMatchObject({ approvals: 1, required: 2, status: 'open' });
    // Not in force yet.
    expect(h.ledger.state.policies.has('bp-cuff-v1')).toBe(false);

    const listed = await medgate('proposal', 'list', '--gateway', h.base);
    expect(listed.out).toContain(`${proposal.id}  policy.set`);
    expect(listed.out).toContain('1/2');

    // alice cannot approve twice.
    const twice = await medgate('proposal', 'approve', proposal.id, ...as('alice'));
    expect(twice.code).toBe(1);
    expect(twice.err).toContain('MG_ERR_DUPLICATE_APPROVAL');

    const approve = await medgate('proposal', 'approve', proposal.id, ...as('carol'));
    expect(approve.code, approve.err).toBe(0);
    expect(approve.out).toContain('done');
    expect(h.ledger.state.policies.get('bp-cuff-v1')).toMatchObject({
      approvals: 3,
      enrolment: 'auto',
      maxWaveSize: 100,
    });

    const show = JSON.parse(
      (await medgate('policy', 'show', 'bp-cuff-v1', '--json', '--gateway', h.base)).out,
    );
    expect(show).toMatchObject({ own: true, policy: { approvals: 3, enrolment: 'auto' } });
    const executed = await medgate('proposal', 'approve', proposal.id, ...as('bob'));
    expect(executed.code).toBe(1);
    expect(executed.err).toContain('MG_ERR_PROPOSAL_CLOSED');
  });

  it('takes the gateway and the admin key from the environment', async () => {
    vi.stubEnv('MEDGATE_GATEWAY', h.base);
    vi.stubEnv('MEDGATE_ADMIN_KEY', join(keys, 'admin-bob.key'));
    const run = await medgate(
      'device',
      'enrol',
      'glucose-001',
      '--pub',
      join(keys, 'device-glucose-001.pub'),
      '--model',
      'glucose-v1',
    );
    expect(run.code, run.err).toBe(0);
    expect(run.out).toContain('enrolled by admin:bob');
  });

  it('prints the code of a refusal on one line and exits 1', async () => {
    const again = await medgate(
      'device',
      'enrol',
      'wearable-001',
      '--pub',
      join(keys, 'device-wearable-003.pub'),
      '--model',
      'x',
      ...as('alice'),
    );
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/^medgate device enrol: MG_ERR_DEVICE_EXISTS: .+\n$/);
  });

  it("refuses a key that is no admin's, a wrong --as, and missing arguments with exit 2", async () => {
    const vendor = await medgate(
      'device',
      'revoke',
      'wearable-001',
      '--gateway',
      h.base,
      '--admin-key',
      join(keys, 'vendor-acme.key'),
    );
    expect(vendor.code).toBe(2);
    expect(vendor.err).toContain("is not an admin's key");
    const wrongAs = await medgate('device', 'revoke', 'wearable-001', ...as('alice'), '--as', 'admin:bob');
    expect(wrongAs.code).toBe(2);
    expect(wrongAs.err).toContain("is not admin:bob's key");
    const noKey = await medgate('device', 'revoke', 'wearable-001', '--gateway', h.base);
    expect(noKey.code).toBe(2);
    expect(noKey.err).toContain('missing --admin-key');
    const noId = await medgate('device', 'enrol', '--pub', 'x', '--model', 'm', ...as('alice'));
    expect([noId.code, noId.err]).toEqual([2, 'medgate device enrol: missing ID (see --help)\n']);
    const badId = await medgate('clinician', 'grant', 'dr-lee', 'enrol', ...as('alice'));
    expect(badId.code).toBe(2);
    const nothing = await medgate('policy', 'set', 'bp-cuff-v1', ...as('alice'));
    expect(nothing.code).toBe(2);
    expect(nothing.err).toContain('nothing to change');
  });

  it('reports an unreachable gateway with its code', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const run = await medgate(
      'device',
      'list',
      '--gateway',
      `http://127.0.0.1:${port}`,
      '--admin-key',
      join(keys, 'admin-alice.key'),
    );
    expect(run.code).toBe(1);
    expect(run.err).toMatch(
      /^medgate device list: MG_ERR_GATEWAY_UNREACHABLE: cannot reach the gateway at http:\/\/127\.0\.0\.1:\d+/,
    );
  });
});
