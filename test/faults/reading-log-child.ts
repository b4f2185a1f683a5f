/**
 * Child of reading-log-kill.test.ts: opens the reading log in DIR and appends leaves as fast
 * as group commit allows, printing `ready <size>` once open and then `ack <index> <hex leaf
 * hash> <device> <seq>` for every append that resolved (i.e. is durable). The parent kills it
 * with SIGKILL.
 *
 * Usage: node --import tsx test/faults/reading-log-child.ts DIR [CONCURRENCY]
 */
import { writeSync } from 'node:fs';
import { toHex, utf8 } from '../../firmware-ts/protocol/bytes.js';
import { openDataDir } from '../../gateway/ledger/data-dir.js';
import { ReadingLog } from '../../gateway/ledger/reading-log.js';

const dir = process.argv[2];
const concurrency = Number(process.argv[3] ?? 256);
if (dir === undefined || !Number.isSafeInteger(concurrency) || concurrency < 1) {
  process.stderr.write('usage: reading-log-child.ts DIR [CONCURRENCY]\n');
  process.exit(2);
}

const dataDir = await openDataDir(dir, { create: true });
const log = await ReadingLog.open(dataDir);
// Seqs continue from the durable size, so a leaf written but not acked before a kill
// never collides with a new one.
let next = log.size;
// Pipes are synchronous on Linux: once writeSync returns, the parent can read the line even
// if this process is killed the next instant. Acks of one batch go out in one write.
let lines: string[] = [];
const flush = () => {
  if (lines.length === 0) return;
  const text = lines.join('');
  lines = [];
  writeSync(1, text);
};
writeSync(1, `ready ${log.size}\n`);

async function worker(): Promise<never> {
  for (;;) {
    const seq = next++;
    const deviceId = `dev-${seq % 97}`;
    const leafData = utf8(`reading ${deviceId} ${seq} ${'x'.repeat(seq % 200)}`);
    const { index, leafHash } = await log.append({ leafData, deviceId, seq });
    if (lines.length === 0) setImmediate(flush);
    lines.push(`ack ${index} ${toHex(leafHash)} ${deviceId} ${seq}\n`);
  }
}

await Promise.all(Array.from({ length: concurrency }, worker));
