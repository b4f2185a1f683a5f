/**
 * An offer of arbitrary software, as a compromised gateway alone could make it: a manifest, a
 * rollout proposal and a block, each signed by a key of its own choosing (none in the device's
 * trust bundle). The device must refuse it at its first check, the block's signature
 * (MG_ERR_UPDATE_BAD_BLOCK); "single-server compromise" in REFERENCE.md's table of attacks.
 */
import { signBlock, txRootOf } from '../../firmware-ts/protocol/block.js';
import { utf8 } from '../../firmware-ts/protocol/bytes.js';
import { signerFromSecretKey } from '../../firmware-ts/protocol/cose.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { sha256 } from '../../firmware-ts/protocol/hash.js';
import { signManifest, signTx, txId } from '../../firmware-ts/protocol/tx/sign.js';
import { encodeOffer, UPDATE_LIMITS } from '../../firmware-ts/protocol/update/index.js';

const HOUR = 3_600_000;

export function forgedOffer(
  chain: string,
  deviceId: string,
  model: string,
  vendor: string,
  now = Date.now(),
): Uint8Array {
  const stranger = () => signerFromSecretKey(nodeBackend.generateSecretKey(), nodeBackend);
  const image = utf8('arbitrary software, not from the vendor');
  const manifest = signManifest(
    {
      vendor,
      model,
      seq: 999_999,
      version: '6.6.6',
      digest: sha256(image),
      size: image.length,
      created: now,
    },
    stranger(),
    chain,
  );
  const proposal = signTx(
    {
      type: 'proposal.create',
      chain,
      actor: 'admin:alice',
      nonce: 1,
      t: now,
      body: {
        action: {
          type: 'rollout.authorize',
          body: {
            manifest: sha256(manifest),
            model,
            target: { devs: [deviceId] },
            notBefore: 0,
            expires: now + HOUR,
            waves: [1],
            maxFailures: 1,
          },
        },
        expires: now + HOUR,
      },
    },
    stranger(),
  );
  const block = signBlock(
    {
      v: 1,
      chain,
      height: 1_000_000,
      prev: new Uint8Array(32),
      t: now,
      txRoot: txRootOf([proposal]),
      txCount: 1,
      log: { size: 0, root: sha256(new Uint8Array(0)) },
    },
    stranger(),
  );
  return encodeOffer({
    rollout: txId(proposal),
    manifest,
    proposal,
    approvals: [],
    block: block.bytes,
    txIndex: 0,
    txPath: [],
    latest: block.bytes,
    chunk: UPDATE_LIMITS.maxChunk,
  });
}
