/**
 * The protocol core as a person meets it: a device key signs a reading, the gateway side
 * verifies it with the other ed25519 backend, the reading's hash joins an RFC 9162 Merkle
 * tree, and its inclusion proof checks out. Then three forgeries are refused by code.
 */
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { decodeCbor } from '../../firmware-ts/protocol/cbor.js';
import {
  chainAad,
  decodeCoseSign1,
  signCoseSign1,
  signerFromSecretKey,
  verifyCoseSign1,
} from '../../firmware-ts/protocol/cose.js';
import { decodeReading, encodeReading, type Reading } from '../../firmware-ts/protocol/decode/reading.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { isMedgateError } from '../../firmware-ts/protocol/errors.js';
import { kidOf } from '../../firmware-ts/protocol/kid.js';
import { leafHash, MemoryTree, verifyInclusion } from '../../firmware-ts/protocol/merkle/index.js';
import { checkObservations, news2Alerts, vitalSign } from '../../firmware-ts/protocol/vitals.js';
import { check, type Narrator } from './narrator.js';

const CHAIN = 'medgate-demo';

/** Expects `fn` to throw a MedgateError with `code`; returns the code for the narrative. */
function refused(fn: () => unknown, code: string): string {
  try {
    fn();
  } catch (err) {
    if (isMedgateError(err, code)) return code;
    throw err;
  }
  throw new Error(`expected a refusal with ${code}, but it was accepted`);
}

export async function protocolStory(narrator: Narrator): Promise<void> {
  const aad = chainAad(CHAIN);
  const deviceKey = nobleBackend.generateSecretKey();
  const devicePub = nobleBackend.publicKey(deviceKey);
  const device = signerFromSecretKey(deviceKey, nobleBackend);
  const reading: Reading = {
    dev: 'wearable-0001',
    seq: 1,
    t: Date.now(),
    obs: [
      { code: '8867-4', v: 72, u: '/min' },
      { code: '2708-6', v: 97, u: '%' },
      { code: '9279-1', v: 16, u: '/min' },
      { code: '8310-5', v: 36.8, u: 'Cel' },
    ],
  };
  let signed: Uint8Array = new Uint8Array();
  const tree = new MemoryTree();
  let index = -1;

  await narrator.step('A wearable makes its ed25519 key pair (noble backend, as on a device).', () => [
    `public key ${toHex(devicePub)}`,
    `kid        ${toHex(kidOf(devicePub))}  (first 16 bytes of SHA-256 of the key)`,
  ]);

  await narrator.step(`It signs a reading as COSE_Sign1, bound to chain "${CHAIN}".`, () => {
    signed = signCoseSign1(encodeReading(reading), device, aad);
    check(signed[0] === 0xd2, 'COSE_Sign1 tag 18');
    return [
      reading.obs.map((o) => `${vitalSign(o.code)?.display ?? o.code} ${o.v} ${o.u}`).join(', '),
      `${signed.length} bytes: ${toHex(signed.subarray(0, 24))}…`,
    ];
  });

  await narrator.step('The gateway decodes it strictly and verifies it with node:crypto.', () => {
    const msg = decodeCoseSign1(signed);
    verifyCoseSign1(msg, devicePub, aad, nodeBackend);
    const decoded = decodeReading(decodeCbor(msg.payload));
    checkObservations(decoded.obs);
    check(decoded.seq === reading.seq && decoded.obs.length === 4, 'reading round trip');
    verifyCoseSign1(msg, devicePub, aad, nobleBackend);
    return [
      `signature valid on both backends; ${decoded.obs.length} observations with known LOINC codes and UCUM units`,
      `NEWS2 red-band alerts: ${news2Alerts(decoded.obs).length}`,
    ];
  });

  await narrator.step('Its hash joins an RFC 9162 Merkle tree with 999 other readings.', () => {
    for (let i = 0; i < 1000; i++) {
      if (i === 613) {
        index = tree.append(leafHash(signed));
        continue;
      }
      const other = signCoseSign1(encodeReading({ ...reading, seq: 1000 + i }), device, aad);
      tree.append(leafHash(other));
    }
    return [`leaf #${index} of ${tree.size}; root ${toHex(tree.root())}`];
  });

  await narrator.step('Its inclusion proof checks out against the root.', () => {
    const proof = tree.inclusionProof(index, tree.size);
    verifyInclusion(leafHash(signed), index, tree.size, proof, tree.root());
    return [`${proof.length} hashes prove leaf #${index} is in the tree of ${tree.size}`];
  });

  await narrator.step('Forgeries are refused, each with a stable code.', () => {
    const altered = signed.slice();
    altered[altered.length - 70] = (altered[altered.length - 70] as number) ^ 1;
    const a = refused(
      () => verifyCoseSign1(decodeCoseSign1(altered), devicePub, aad, nodeBackend),
      'MG_ERR_BAD_SIGNATURE',
    );
    const b = refused(
      () => verifyCoseSign1(decodeCoseSign1(signed), devicePub, chainAad('another-hospital'), nodeBackend),
      'MG_ERR_BAD_SIGNATURE',
    );
    const proof = tree.inclusionProof(index, tree.size);
    const c = refused(
      () => verifyInclusion(leafHash(altered), index, tree.size, proof, tree.root()),
      'MG_ERR_MERKLE_ROOT_MISMATCH',
    );
    return [
      `one byte of the reading changed          → ${a}`,
      `replayed into another deployment's chain → ${b}`,
      `proof offered for the altered reading    → ${c}`,
    ];
  });
}
