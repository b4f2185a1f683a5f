/**
 * Firmware images, content-addressed (DESIGN §5): `DIR/firmware/{hex SHA-256}`. An image is
 * written to a temporary file while its SHA-256 is computed, checked against the size and
 * digest of its vendor-signed manifest (constant-time compare), synced, then renamed into
 * place: a file under its digest's name is always a whole, matching image. Devices check the
 * digest again themselves; the store only keeps the gateway from serving junk.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { abytes, toHex } from '../../firmware-ts/protocol/bytes.js';
import { GatewayErrorCode, MedgateError } from '../errors.js';

/** Subdirectory of the data directory that holds the images. */
export const FIRMWARE_SUBDIR = 'firmware';

/** What the released manifest says the image is. */
export interface ImageExpectation {
  readonly digest: Uint8Array;
  readonly size: number;
}

export type PutResult = 'stored' | 'present';

function mismatch(message: string, details: { got?: unknown; want?: unknown } = {}): MedgateError {
  return new MedgateError(GatewayErrorCode.FW_IMAGE_MISMATCH, message, { field: 'image', ...details });
}

export class ImageStore {
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** The store under `dataDir` (created if needed). */
  static async open(dataDir: string): Promise<ImageStore> {
    const dir = join(dataDir, FIRMWARE_SUBDIR);
    await mkdir(dir, { recursive: true, mode: 0o750 });
    return new ImageStore(dir);
  }

  /** Path of the image with this digest (it may not exist). */
  path(digest: Uint8Array): string {
    return join(this.dir, toHex(abytes(digest, 32, 'digest')));
  }

  async has(digest: Uint8Array): Promise<boolean> {
    try {
      await access(this.path(digest));
      return true;
    } catch {
      return false;
    }
  }

  /** Size in bytes of the stored image, or undefined when it is not stored. */
  async size(digest: Uint8Array): Promise<number | undefined> {
    try {
      return (await stat(this.path(digest))).size;
    } catch {
      return undefined;
    }
  }

  /**
   * Stores `source` (bytes or a stream such as an HTTP request) as the image `expect` names.
   * Refuses with MG_ERR_FW_IMAGE_MISMATCH as soon as it grows past `expect.size`, or at its end
   * when its size or digest differ; a stream is then drained (not destroyed) so that an HTTP
   * answer can still be sent. Resolves 'present' when the image was already stored.
   */
  async put(source: Readable | Uint8Array, expect: ImageExpectation): Promise<PutResult> {
    abytes(expect.digest, 32, 'expect.digest');
    if (await this.has(expect.digest)) {
      if (!(source instanceof Uint8Array)) source.resume();
      return 'present';
    }
    const tmp = join(this.dir, `.tmp-${toHex(new Uint8Array(randomBytes(8)))}`);
    try {
      const digest = await this.#write(tmp, source, expect.size);
      if (!timingSafeEqual(digest, expect.digest)) {
        throw mismatch('the image SHA-256 is not the digest of its manifest', {
          got: toHex(digest),
          want: toHex(expect.digest),
        });
      }
      const handle = await open(tmp, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.path(expect.digest));
      return 'stored';
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  /** Writes `source` to `path`, at most `size` bytes; resolves with the SHA-256 of what it wrote. */
  #write(path: string, source: Readable | Uint8Array, size: number): Promise<Buffer> {
    const hash = createHash('sha256');
    const out = createWriteStream(path, { mode: 0o640 });
    return new Promise<Buffer>((resolve, reject) => {
      let written = 0;
      let failed = false;
      const fail = (err: unknown): void => {
        if (failed) return;
        failed = true;
        // Rejected once the file is closed, so that the caller's unlink finds it.
        if (out.closed) reject(err);
        else {
          out.once('close', () => reject(err));
          out.destroy();
        }
      };
      const finish = (): void => {
        if (failed) return;
        if (written !== size) {
          fail(
            mismatch(`the image has ${written} bytes, its manifest says ${size}`, {
              got: written,
              want: size,
            }),
          );
          return;
        }
        out.end(() => resolve(hash.digest()));
      };
      out.on('error', fail);
      if (source instanceof Uint8Array) {
        written = source.length;
        if (written === size) {
          hash.update(source);
          out.write(source);
        }
        finish();
        return;
      }
      const onData = (chunk: Buffer): void => {
        written += chunk.length;
        if (written > size) {
          source.off('data', onData);
          source.off('end', finish);
          source.resume(); // drain the rest; the caller answers and closes
          fail(mismatch(`the image is larger than the ${size} bytes of its manifest`, { want: size }));
          return;
        }
        hash.update(chunk);
        if (!out.write(chunk)) {
          source.pause();
          out.once('drain', () => source.resume());
        }
      };
      source.on('data', onData);
      source.on('end', finish);
      source.on('error', fail);
    });
  }

  /**
   * Up to `len` bytes of the image from `offset` (fewer at its end). MG_ERR_FW_IMAGE_MISSING
   * when the image is not stored, MG_ERR_FW_BAD_OFFSET when `offset` is at or past its end.
   */
  async read(digest: Uint8Array, offset: number, len: number): Promise<Uint8Array> {
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(this.path(digest), 'r');
    } catch {
      throw new MedgateError(GatewayErrorCode.FW_IMAGE_MISSING, 'the gateway does not hold this image', {
        field: 'digest',
      });
    }
    try {
      const { size } = await handle.stat();
      if (offset >= size) {
        throw new MedgateError(GatewayErrorCode.FW_BAD_OFFSET, `offset is past the image's ${size} bytes`, {
          field: 'offset',
          got: offset,
          want: size - 1,
        });
      }
      const buffer = Buffer.alloc(Math.min(len, size - offset));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      return new Uint8Array(buffer.buffer, buffer.byteOffset, bytesRead);
    } finally {
      await handle.close();
    }
  }
}
