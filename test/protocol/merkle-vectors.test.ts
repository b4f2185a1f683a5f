/**
 * The transparency-dev/merkle test data (test/vectors/merkle-rfc6962.json, see its header and
 * test/vectors/README.md): every case with wantErr must be refused with a coded MedgateError,
 * every other case accepted.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromBase64 } from '../../firmware-ts/protocol/bytes.js';
import { isMedgateError, ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import {
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from '../../firmware-ts/protocol/merkle/index.js';

interface InclusionCase {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  wantErr: boolean;
  name: string;
}

interface ConsistencyCase {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  wantErr: boolean;
  name: string;
}

const vectors = JSON.parse(
  readFileSync(new URL('../vectors/merkle-rfc6962.json', import.meta.url), 'utf8'),
) as { inclusion: InclusionCase[]; consistency: ConsistencyCase[] };
const { inclusion, consistency } = vectors;

const MERKLE_CODES: readonly string[] = [
  ProtocolErrorCode.MERKLE_BAD_INDEX,
  ProtocolErrorCode.MERKLE_BAD_SIZE,
  ProtocolErrorCode.MERKLE_BAD_PROOF,
  ProtocolErrorCode.MERKLE_BAD_HASH,
  ProtocolErrorCode.MERKLE_ROOT_MISMATCH,
];

const b64 = (s: string): Uint8Array => fromBase64(s);
// Go's nil proof is the empty proof.
const hashes = (proof: string[] | null): Uint8Array[] => (proof ?? []).map(b64);

/** Runs `fn`; returns the code it was refused with, or undefined when it was accepted. */
function outcome(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (!isMedgateError(err)) throw err;
    return err.code;
  }
}

const runInclusion = (c: InclusionCase) =>
  outcome(() => verifyInclusion(b64(c.leafHash), c.leafIdx, c.treeSize, hashes(c.proof), b64(c.root)));
const runConsistency = (c: ConsistencyCase) =>
  outcome(() => verifyConsistency(c.size1, c.size2, hashes(c.proof), b64(c.root1), b64(c.root2)));

describe('transparency-dev/merkle vectors', () => {
  it('has the whole set: 98 inclusion and 98 consistency cases', () => {
    expect(inclusion).toHaveLength(98);
    expect(consistency).toHaveLength(98);
    expect(inclusion.filter((c) => !c.wantErr)).toHaveLength(6);
    expect(consistency.filter((c) => !c.wantErr)).toHaveLength(6);
  });

  describe('inclusion', () => {
    it.each(inclusion.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      const code = runInclusion(c);
      if (c.wantErr) {
        expect(MERKLE_CODES).toContain(code);
      } else {
        expect(code).toBeUndefined();
        expect(rootFromInclusionProof(b64(c.leafHash), c.leafIdx, c.treeSize, hashes(c.proof))).toEqual(
          b64(c.root),
        );
      }
    });
  });

  describe('consistency', () => {
    it.each(consistency.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      const code = runConsistency(c);
      if (c.wantErr) expect(MERKLE_CODES).toContain(code);
      else expect(code).toBeUndefined();
    });
  });

  it('accepts exactly the 12 valid cases and refuses the other 184 of 196', () => {
    const codes = [...inclusion.map(runInclusion), ...consistency.map(runConsistency)];
    const wanted = [...inclusion, ...consistency].map((c) => c.wantErr);
    const tally = { accepted: 0, refused: 0, wrong: 0 };
    codes.forEach((code, i) => {
      if (code === undefined) tally.accepted++;
      else tally.refused++;
      if ((code !== undefined) !== wanted[i]) tally.wrong++;
    });
    const byCode = new Map<string, number>();
    for (const code of codes) if (code !== undefined) byCode.set(code, (byCode.get(code) ?? 0) + 1);
    console.log(
      `merkle vectors: ${codes.length} cases, ${tally.accepted} accepted, ${tally.refused} refused`,
      byCode,
    );
    expect(tally).toEqual({ accepted: 12, refused: 184, wrong: 0 });
  });

  it('refuses the out-of-range index 2^64-1 as a bad index, not by accident', () => {
    const c = inclusion.find((v) => v.name === 'inclusion/0/leafIdx-sub-@1.json') as InclusionCase;
    expect(c.leafIdx).toBeGreaterThan(Number.MAX_SAFE_INTEGER);
    expect(outcome(() => verifyInclusion(b64(c.leafHash), c.leafIdx, c.treeSize, [], b64(c.root)))).toBe(
      ProtocolErrorCode.MERKLE_BAD_INDEX,
    );
  });
});
