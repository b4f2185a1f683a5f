/**
 * GroupCommit's pipeline order with stages under the test's control: the next batch is
 * prepared while one is written, its write starts before the callers of the written batch
 * run, and nothing is written on top of a batch that failed.
 */
import { describe, expect, it } from 'vitest';
import { type BatchStages, GroupCommit, type Settled } from '../../gateway/ledger/group-commit.js';

interface Deferred {
  resolve: () => void;
  reject: (e: Error) => void;
}

/** Stages that log every call; each commit waits until the test settles it. */
function stages(events: string[], commits: Deferred[]): BatchStages<number, number, number[]> {
  return {
    prepare: async (items) => {
      events.push(`prepare ${items[0]}`);
      return [...items];
    },
    commit: (items) => {
      events.push(`commit ${items[0]}`);
      return new Promise<Settled<number>[]>((resolve, reject) => {
        commits.push({ resolve: () => resolve(items.map((value) => ({ ok: true, value }))), reject });
      });
    },
    discard: (items) => {
      events.push(`discard ${items[0]}`);
    },
  };
}

/** Runs queued callbacks (microtasks and setImmediate) until `check` holds; bounded. */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setImmediate(r));
  expect(check()).toBe(true);
}

describe('GroupCommit', () => {
  it('starts writing the next batch before the callers of the written one run', async () => {
    const events: string[] = [];
    const commits: Deferred[] = [];
    const gc = new GroupCommit(stages(events, commits), { maxBatch: 5, maxDelayMs: 0 });
    const done = Array.from({ length: 10 }, (_, i) =>
      gc.submit(i).then((v) => {
        events.push(`settled ${v}`);
      }),
    );
    await until(() => commits.length === 1 && events.includes('prepare 5'));
    expect(events).toEqual(['prepare 0', 'commit 0', 'prepare 5']);

    commits[0]!.resolve();
    await until(() => events.includes('settled 4'));
    // The second write starts first; the first batch's callers run after it.
    expect(events.slice(3)).toEqual([
      'commit 5',
      'settled 0',
      'settled 1',
      'settled 2',
      'settled 3',
      'settled 4',
    ]);

    commits[1]!.resolve();
    await Promise.all(done);
    expect(gc.stats).toMatchObject({ batches: 2, items: 10, failedBatches: 0 });
  });

  it('writes nothing on top of a failed batch: the next one is discarded and prepared again', async () => {
    const events: string[] = [];
    const commits: Deferred[] = [];
    const gc = new GroupCommit(stages(events, commits), { maxBatch: 5, maxDelayMs: 0 });
    const results = Array.from({ length: 10 }, (_, i) => gc.submit(i).then(String, (e: Error) => e.message));
    await until(() => commits.length === 1 && events.includes('prepare 5'));

    commits[0]!.reject(new Error('disk full'));
    await until(() => commits.length === 2);
    expect(events).toEqual(['prepare 0', 'commit 0', 'prepare 5', 'discard 5', 'prepare 5', 'commit 5']);
    commits[1]!.resolve();
    expect(await Promise.all(results)).toEqual([...Array(5).fill('disk full'), '5', '6', '7', '8', '9']);
    expect(gc.stats).toMatchObject({ batches: 2, failedBatches: 1 });
  });
});
