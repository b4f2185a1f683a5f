/**
 * `medgate firmware sign|release` and `medgate rollout propose|approve|status|halt|list` as a
 * vendor and fleet admins run them (DESIGN §5, §7): real ledger and HTTP API on loopback, the
 * CLI in this process through `main(argv)`, demo keys. Exit codes: 0 done, 1 refused (the code
 * is printed), 2 bad usage.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../firmware-ts/protocol/bytes.js';
import { sha256 } from '../../firmware-ts/protocol/hash.js';
import { decodeManifestCose } from '../../firmware-ts/protocol/tx/sign.js';
import { GatewayErrorCode } from '../../gateway/errors.js';
import { StateErrorCode } from '../../gateway/ledger/state/errors.js';
import { FIRMWARE_SUBDIR } from '../../gateway/updates/image-store.js';
import { type Harness, mustSubmit, removeTempDirs, signedTx, startHarness } from '../gateway/http-harness.js';
import { medgate } from '../support/cli.js';

describe('medgate firmware / rollout over the HTTP API', () => {
  let h: Harness;
  let keys: string;
  let image: string;
  let manifest: string;
  let imageBytes: Uint8Array;
  let rolloutId: string;
  let releaseId: string;
  const admin = (name: string) => ['--gateway', h.base, '--admin-key', join(keys, `admin-${name}.key`)];

  beforeAll(async () => {
    h = await startHarness({ store: false });
    keys = join(h.dir, 'demo-keys');
    for (const dev of ['wearable-001', 'wearable-002', 'wearable-003']) {
      await mustSubmit(
        h,
        signedTx(h, h.key('admin:alice'), 'device.enrol', { dev, pub: h.key(dev).pub, model: 'wearable-v1' }),
      );
    }
    imageBytes = new Uint8Array(randomBytes(40_000));
    image = join(h.dir, 'wearable-2.0.0.bin');
    manifest = join(h.dir, 'wearable-2.0.0.manifest');
    await writeFile(image, imageBytes);
  });

  afterAll(async () => {
    await h.close();
    await removeTempDirs();
  });

  it('firmware sign writes a vendor-signed manifest of the image (vendor found by its key)', async () => {
    const run = await medgate(
      'firmware',
      'sign',
      '--vendor-key',
      join(keys, 'vendor-acme.key'),
      '--image',
      image,
      '--model',
      'wearable-v1',
      '--seq',
      '2',
      '--version',
      '2.0.0',
      '--out',
      manifest,
      '--gateway',
      h.base,
    );
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(
      /^manifest .*: wearable-v1 seq 2 \(2\.0\.0\), 40000 bytes, signed by vendor:acme\n/,
    );
    const bytes = new Uint8Array(await readFile(manifest));
    const { manifest: m } = decodeManifestCose(bytes);
    expect(m).toMatchObject({ vendor: 'acme', model: 'wearable-v1', seq: 2, version: '2.0.0', size: 40_000 });
    expect(toHex(m.digest)).toBe(toHex(sha256(imageBytes)));
    expect(Math.abs(m.created - Date.now())).toBeLessThan(60_000);
    releaseId = toHex(sha256(bytes));
    expect(run.out).toContain(releaseId);
  });

  it('firmware sign with --chain needs --vendor; bad usage exits 2', async () => {
    const base = ['firmware', 'sign', '--vendor-key', join(keys, 'vendor-acme.key'), '--image', image];
    const withChain = [...base, '--model', 'wearable-v1', '--seq', '3', '--version', '3', '--chain', h.chain];
    expect((await medgate(...withChain)).code).toBe(2);
    const out = join(h.dir, 'chain.manifest');
    const ok = await medgate(...withChain, '--vendor', 'acme', '--out', out, '--json');
    expect(ok.code, ok.err).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ chain: h.chain, vendor: 'acme', seq: 3, out });
    expect(
      (await medgate(...base, '--model', 'wearable-v1', '--version', '3', '--chain', h.chain)).err,
    ).toContain('missing --seq');
    expect((await medgate(...base, '--model', 'bad model', '--seq', '1', '--version', '1')).code).toBe(2);
  });

  it('firmware release refuses an image that is not the manifest’s, before submitting anything', async () => {
    const other = join(h.dir, 'other.bin');
    await writeFile(other, new Uint8Array(40_000));
    const run = await medgate('firmware', 'release', manifest, other, ...admin('alice'));
    expect(run.code).toBe(1);
    expect(run.err).toContain(GatewayErrorCode.FW_IMAGE_MISMATCH);
    expect(h.ledger.state.releases.size).toBe(0);
  });

  it('firmware release records the release and uploads the image, content-addressed; again is a no-op', async () => {
    const run = await medgate('firmware', 'release', manifest, image, ...admin('alice'));
    expect(run.code, run.err).toBe(0);
    expect(run.out).toContain(`release ${releaseId}: wearable-v1 seq 2 (2.0.0) by vendor:acme (block `);
    expect(run.out).toContain('uploaded');
    expect(h.ledger.state.releases.get(releaseId)).toMatchObject({ seq: 2, size: 40_000 });
    const stored = await readFile(join(h.dir, FIRMWARE_SUBDIR, toHex(sha256(imageBytes))));
    expect(toHex(new Uint8Array(stored))).toBe(toHex(imageBytes));

    const again = await medgate('firmware', 'release', manifest, image, ...admin('bob'), '--json');
    expect(again.code, again.err).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({ release: releaseId, image: 'present', seq: 2 });
    expect(JSON.parse(again.out).txId).toBeUndefined();
  });

  it('rollout propose creates the proposal (1 of 2 approvals); status shows it as proposed', async () => {
    const run = await medgate(
      'rollout',
      'propose',
      '--manifest',
      manifest,
      '--devices',
      'wearable-001,wearable-002,wearable-003',
      '--waves',
      '1,2',
      '--max-failures',
      '1',
      '--not-before',
      'now',
      '--expires',
      '+1d',
      ...admin('alice'),
      '--json',
    );
    expect(run.code, run.err).toBe(0);
    const result = JSON.parse(run.out) as {
      rollout: string;
      proposal: { approvals: number; required: number };
    };
    rolloutId = result.rollout;
    expect(result.proposal).toMatchObject({ approvals: 1, required: 2 });
    expect(h.ledger.state.rollouts.size).toBe(0);

    const status = await medgate('rollout', 'status', rolloutId, '--gateway', h.base);
    expect(status.code, status.err).toBe(0);
    expect(status.out).toContain(`rollout ${rolloutId}: proposed, 1 of 2 approvals (alice);`);
    expect(status.out).toContain(`medgate rollout approve ${rolloutId} --admin-key KEY`);
  });

  it('rollout approve by a second admin authorises it: wave 1 offered, wave 2 closed', async () => {
    const run = await medgate('rollout', 'approve', rolloutId, ...admin('bob'));
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(new RegExp(`^rollout ${rolloutId} approved by admin:bob: authorised, active`));
    expect(h.ledger.state.rollouts.get(rolloutId)).toMatchObject({ model: 'wearable-v1', waves: [1, 2] });

    const status = await medgate('rollout', 'status', rolloutId, '--gateway', h.base, '--json');
    expect(status.code, status.err).toBe(0);
    const view = JSON.parse(status.out);
    expect(view).toMatchObject({ status: 'active', release: { id: releaseId, seq: 2, version: '2.0.0' } });
    expect(view.waves.map((w: { open: boolean; devices: string[] }) => [w.devices, w.open])).toEqual([
      [['wearable-001'], true],
      [['wearable-002', 'wearable-003'], false],
    ]);
    expect(
      view.devices.map((d: { id: string; state: string; offered: boolean }) => [d.id, d.state, d.offered]),
    ).toEqual([
      ['wearable-001', 'pending', true],
      ['wearable-002', 'pending', false],
      ['wearable-003', 'pending', false],
    ]);
  });

  it('status follows the devices’ reports; a rollback at the failure threshold halts the rollout', async () => {
    const report = (dev: string, state: 'confirmed' | 'rolledBack', seq: number, error?: string) =>
      mustSubmit(
        h,
        signedTx(h, h.key(dev), 'update.report', {
          rollout: fromHex(rolloutId),
          state,
          seq,
          ...(error === undefined ? {} : { error }),
        }),
      );
    await report('wearable-001', 'confirmed', 2);
    let view = JSON.parse((await medgate('rollout', 'status', rolloutId, '--gateway', h.base, '--json')).out);
    expect(view.waves.map((w: { open: boolean }) => w.open)).toEqual([true, true]);
    expect(view.waves[0].counts).toMatchObject({ confirmed: 1 });

    await report('wearable-002', 'rolledBack', 1, 'MG_ERR_UPDATE_SELF_TEST');
    const text = await medgate('rollout', 'status', rolloutId, '--gateway', h.base);
    expect(text.code, text.err).toBe(0);
    expect(text.out).toContain(`rollout ${rolloutId}: halted`);
    expect(text.out).toContain('halted by policy: 1 devices failed (threshold 1)');
    expect(text.out).toMatch(/wave 1 \(closed\): 1 device\(s\): confirmed 1/);
    expect(text.out).toMatch(/wave 2 \(closed\): 2 device\(s\): pending 1, rolledBack 1/);
    expect(text.out).toMatch(/wearable-002 +wave 2 +rolledBack +seq 1 MG_ERR_UPDATE_SELF_TEST/);
    view = JSON.parse((await medgate('rollout', 'status', rolloutId, '--gateway', h.base, '--json')).out);
    expect(view.halted).toMatchObject({ by: 'policy' });
    expect(view.devices.every((d: { offered: boolean }) => !d.offered)).toBe(true);
  });

  it('rollout halt records an admin halt with its reason; halting twice is refused', async () => {
    const propose = await medgate(
      'rollout',
      'propose',
      '--release',
      releaseId,
      '--model',
      'wearable-v1',
      '--cohort',
      'all',
      '--waves',
      '1',
      ...admin('carol'),
      '--json',
    );
    expect(propose.code, propose.err).toBe(0);
    const id = JSON.parse(propose.out).rollout as string;
    expect((await medgate('rollout', 'approve', id, ...admin('alice'))).code).toBe(0);

    const halt = await medgate(
      'rollout',
      'halt',
      id,
      '--reason',
      'battery drain seen in wave 1',
      ...admin('bob'),
    );
    expect(halt.code, halt.err).toBe(0);
    expect(halt.out).toMatch(
      new RegExp(`^rollout ${id} halted by admin:bob \\(block \\d+, tx [0-9a-f]{16}\\)`),
    );
    expect(h.ledger.state.rollouts.get(id)?.halted).toMatchObject({
      by: 'admin:bob',
      reason: 'battery drain seen in wave 1',
    });
    const again = await medgate('rollout', 'halt', id, ...admin('alice'));
    expect(again.code).toBe(1);
    expect(again.err).toContain(StateErrorCode.ROLLOUT_HALTED);

    const list = await medgate('rollout', 'list', '--gateway', h.base, '--json');
    expect(
      JSON.parse(list.out).rollouts.map((r: { id: string; status: string }) => [r.id, r.status]),
    ).toEqual(
      expect.arrayContaining([
        [rolloutId, 'halted'],
        [id, 'halted'],
      ]),
    );
  });

  it('refuses bad usage with exit 2 and unknown rollouts with exit 1', async () => {
    const both = await medgate(
      'rollout',
      'propose',
      '--release',
      releaseId,
      '--model',
      'wearable-v1',
      '--devices',
      'wearable-001',
      '--cohort',
      'all',
      ...admin('alice'),
    );
    expect(both.code).toBe(2);
    expect(both.err).toContain('exactly one of --devices, --cohort');
    expect(
      (await medgate('rollout', 'propose', '--release', releaseId, '--cohort', 'all', ...admin('alice')))
        .code,
    ).toBe(2);
    expect((await medgate('rollout', 'status', 'abc', '--gateway', h.base)).code).toBe(2);
    const unknown = await medgate('rollout', 'status', 'ab'.repeat(32), '--gateway', h.base);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain(StateErrorCode.UNKNOWN_ROLLOUT);
  });

  it.each([
    ['firmware', 'sign'],
    ['firmware', 'release'],
    ['rollout', 'propose'],
    ['rollout', 'approve'],
    ['rollout', 'status'],
    ['rollout', 'halt'],
    ['rollout', 'list'],
  ])('medgate %s %s --help', async (group, name) => {
    const run = await medgate(group, name, '--help');
    expect(run.code).toBe(0);
    expect(run.out).toMatch(new RegExp(`^usage: medgate ${group} ${name}`));
  });
});
