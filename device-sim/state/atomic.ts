/**
 * Crash-safe small files: write a temporary sibling, fsync it, rename over the target (POSIX
 * rename is atomic), so a reader sees the old or the new content, never a torn one. The
 * coalescing writer keeps at most one write in flight per file and always ends with the
 * latest content, so a fleet at high time-scale does not queue thousands of rewrites.
 */
import { open, rename } from 'node:fs/promises';

let tmpCounter = 0;

export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  // A unique name: two writers of one file never share (and tear) a temporary.
  const tmp = `${path}.${process.pid}.${(tmpCounter++).toString(36)}.tmp`;
  const handle = await open(tmp, 'w', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}

/** Writes `render()` to `path` soon after each `schedule()`, one write at a time, the last one always. */
export class CoalescingWriter {
  readonly #path: string;
  readonly #render: () => string;
  #dirty = false;
  #running: Promise<void> | undefined;
  #error: unknown;

  constructor(path: string, render: () => string) {
    this.#path = path;
    this.#render = render;
  }

  schedule(): void {
    this.#dirty = true;
    this.#running ??= this.#loop();
  }

  /** Resolves once everything scheduled so far is on disk; rejects with the last write error. */
  async flush(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
    if (this.#error !== undefined) {
      const err = this.#error;
      this.#error = undefined;
      throw err;
    }
  }

  async #loop(): Promise<void> {
    try {
      while (this.#dirty) {
        this.#dirty = false;
        try {
          await writeFileAtomic(this.#path, this.#render());
        } catch (err) {
          this.#error = err;
        }
      }
    } finally {
      this.#running = undefined;
    }
  }
}
