/**
 * Firmware images: the content-addressed store (gateway/updates/image-store.ts) and the upload
 * route `POST /v1/firmware/{digest}` (gateway/http/routes-firmware.ts). Nothing is stored
 * unless its size and SHA-256 are the released manifest's; only admins upload.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { sha256 } from '../../firmware-ts/protocol/hash.js';
import { signManifest } from '../../firmware-ts/protocol/tx/sign.js';
import { GatewayErrorCode } from '../../gateway/errors.js';
import { FIRMWARE_SUBDIR, ImageStore } from '../../gateway/updates/image-store.js';
import {
  authHeader,
  type Harness,
  mustSubmit,
  removeTempDirs,
  signedTx,
  startHarness,
} from '../gateway/http-harness.js';

const G = GatewayErrorCode;

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (err) {
    return (err as { code?: string }).code;
  }
  throw new Error('expected a refusal');
}

describe('ImageStore', () => {
  let dir: string;
  let store: ImageStore;
  const image = new Uint8Array(randomBytes(50_000));
  const expect50k = { digest: sha256(image), size: image.length };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'medgate-images-'));
    store = await ImageStore.open(dir);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('refuses a wrong size, a wrong digest, and a stream that grows past the size; leaves nothing behind', async () => {
    expect(await codeOf(store.put(image.subarray(1), expect50k))).toBe(G.FW_IMAGE_MISMATCH);
    const flipped = image.slice();
    flipped[100] = flipped[100]! ^ 1;
    expect(await codeOf(store.put(flipped, expect50k))).toBe(G.FW_IMAGE_MISMATCH);
    const longer = Readable.from([Buffer.from(image), Buffer.from([1, 2, 3])]);
    expect(await codeOf(store.put(longer, expect50k))).toBe(G.FW_IMAGE_MISMATCH);
    const shorter = Readable.from([Buffer.from(image.subarray(0, 49_999))]);
    expect(await codeOf(store.put(shorter, expect50k))).toBe(G.FW_IMAGE_MISMATCH);
    expect(await readdir(join(dir, FIRMWARE_SUBDIR))).toEqual([]);
    expect(await store.has(expect50k.digest)).toBe(false);
  });

  it('stores a matching stream under its digest once, and reads it back in bounded chunks', async () => {
    const chunks = [image.subarray(0, 20_000), image.subarray(20_000)].map((c) => Buffer.from(c));
    expect(await store.put(Readable.from(chunks), expect50k)).toBe('stored');
    expect(await store.put(image, expect50k)).toBe('present');
    expect(await readdir(join(dir, FIRMWARE_SUBDIR))).toEqual([toHex(expect50k.digest)]);
    expect(await store.size(expect50k.digest)).toBe(50_000);
    expect(toHex(await store.read(expect50k.digest, 16_384, 16_384))).toBe(
      toHex(image.subarray(16_384, 32_768)),
    );
    // The last chunk is short.
    expect((await store.read(expect50k.digest, 49_000, 16_384)).length).toBe(1000);
    expect(await codeOf(store.read(expect50k.digest, 50_000, 1))).toBe(G.FW_BAD_OFFSET);
    expect(await codeOf(store.read(new Uint8Array(32), 0, 1))).toBe(G.FW_IMAGE_MISSING);
  });
});

describe('POST /v1/firmware/{digest}', () => {
  let h: Harness;
  const image = new Uint8Array(randomBytes(30_000));
  const digest = toHex(sha256(image));
  const url = () => `${h.base}/v1/firmware/${digest}`;
  const post = (body: Uint8Array, headers: Record<string, string> = {}) =>
    fetch(url(), {
      method: 'POST',
      headers: {
        'content-type': 'application/octet-stream',
        authorization: authHeader(h, h.key('admin:alice')),
        ...headers,
      },
      body,
    });
  const errorOf = async (res: Response) => ({
    status: res.status,
    code: ((await res.json()) as { error: { code: string } }).error.code,
  });

  beforeAll(async () => {
    h = await startHarness({ store: false });
  });
  afterAll(async () => {
    await h.close();
    await removeTempDirs();
  });

  it('refuses an image no release names, and anyone but an admin', async () => {
    expect(await errorOf(await post(image))).toEqual({ status: 409, code: G.FW_NOT_RELEASED });
    const manifest = signManifest(
      {
        vendor: 'acme',
        model: 'wearable-v1',
        seq: 2,
        version: '2.0.0',
        digest: sha256(image),
        size: image.length,
        created: Date.now(),
      },
      h.key('vendor:acme').signer,
      h.chain,
    );
    await mustSubmit(h, signedTx(h, h.key('admin:alice'), 'firmware.release', { manifest }));
    const anonymous = await fetch(url(), {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: image,
    });
    expect(await errorOf(anonymous)).toEqual({ status: 401, code: G.AUTH_REQUIRED });
    expect(await errorOf(await post(image, { 'content-type': 'text/plain' }))).toEqual({
      status: 415,
      code: G.HTTP_UNSUPPORTED_MEDIA_TYPE,
    });
  });

  it('refuses bytes that are not the manifest’s image (size or digest), storing nothing', async () => {
    expect(await errorOf(await post(image.subarray(10)))).toEqual({ status: 413, code: G.FW_IMAGE_MISMATCH });
    const other = new Uint8Array(image.length);
    expect(await errorOf(await post(other))).toEqual({ status: 400, code: G.FW_IMAGE_MISMATCH });
    const info = (await (await fetch(url())).json()) as { stored: boolean; releases: unknown[] };
    expect(info).toMatchObject({ stored: false });
    expect(info.releases).toHaveLength(1);
  });

  it('stores the released image (201), then answers 200 present', async () => {
    const first = await post(image);
    expect(first.status).toBe(201);
    expect(await first.json()).toEqual({ digest, size: 30_000, result: 'stored' });
    const again = await post(image);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ result: 'present' });
    expect(await (await fetch(url())).json()).toMatchObject({ digest, stored: true, size: 30_000 });
  });
});
