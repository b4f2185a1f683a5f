/**
 * A verification worker thread (pool.ts starts them). It verifies packed batches with the
 * protocol's node:crypto backend, whose strict policy is the same as the noble backend's
 * (firmware-ts/protocol/ed25519/policy.ts); each thread keeps its own KeyObject cache.
 */
import { parentPort } from 'node:worker_threads';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { type FromWorker, type ToWorker, verifyBatch } from './batch.js';

const port = parentPort;
if (port === null) throw new Error('gateway/verify/worker.ts runs only as a worker thread');

let crashOnNextBatch = false;

port.on('message', (message: ToWorker) => {
  if (message.type === 'crash-on-next-batch') {
    crashOnNextBatch = true;
    return;
  }
  if (crashOnNextBatch) throw new Error('verify worker: crash requested by a test');
  const bits = verifyBatch(message.buffer, nodeBackend);
  const reply: FromWorker = { type: 'result', id: message.id, bits: bits.buffer as ArrayBuffer };
  port.postMessage(reply, [bits.buffer as ArrayBuffer]);
});

const ready: FromWorker = { type: 'ready' };
port.postMessage(ready);
