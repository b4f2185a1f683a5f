/**
 * CBOR encode/s and decode/s, single-threaded, for the CBOR library decision
 * (docs/decisions/cbor.md): a typical reading (4 observations) and a COSE_Sign1-shaped item
 * (tag 18 around [protected bstr, {}, payload bstr, 64-byte signature]), with
 *   - medgate's own encodeCbor / decodeCbor (cborg plus the pre-walk / pre-scan),
 *   - cborg with our strict options but no pre-scan, and cborg with its defaults,
 *   - cbor-x with its defaults, and with the options that make it write standard CBOR, when it
 *     is installed. It is not a project dependency (its native helper has no build for every
 *     platform in our registry, which breaks `npm ci`); to reproduce the comparison run
 *     `npm i --no-save cbor-x` first.
 * Each figure is the median of several rounds, counted per second of this process's CPU time
 * (robust when other processes share the machine) and per wall-clock second.
 *
 *   npx tsx test/bench/cbor.ts
 *
 * Env: MEDGATE_BENCH_ROUNDS (default 5), MEDGATE_BENCH_SECONDS per round (0.6).
 */
import { decode as cborgDecode, encode as cborgEncode, rfc8949EncodeOptions, Tagged } from 'cborg';
import { CborTag, decodeCbor, encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { READING_CBOR_LIMITS } from '../../firmware-ts/protocol/decode/limits.js';
import { decodeReading, type Reading } from '../../firmware-ts/protocol/decode/reading.js';
import {
  type BenchOptions,
  cpuRow,
  isMain,
  knob,
  type Row,
  rate,
  standalone,
  sunk,
  wants,
} from './harness.js';

const reading: Reading = {
  dev: 'ward3-monitor-017',
  seq: 123_456,
  t: 1_767_225_600_000,
  obs: [
    { code: '8867-4', v: 72, u: '/min' },
    { code: '59408-5', v: 97, u: '%' },
    { code: '8310-5', v: 36.8, u: 'Cel' },
    { code: '8480-6', v: 121.5, u: 'mm[Hg]' },
  ],
  fw: 12,
};

const readingBytes = encodeCbor(reading);
const protectedHeader = encodeCbor(
  new Map<number, unknown>([
    [1, -8],
    [4, new Uint8Array(16).fill(7)],
  ]),
);
const signature = new Uint8Array(64).fill(0x5a);
const coseValue = (tag: (value: unknown[]) => unknown) =>
  tag([protectedHeader, new Map(), readingBytes, signature]);
const coseBytes = encodeCbor(coseValue((v) => new CborTag(18, v)));

const strictDecode = {
  strict: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowInfinity: false,
  allowNaN: false,
  allowBigInt: false,
  rejectDuplicateMapKeys: true,
  useMaps: true,
};

/** The parts of cbor-x used here; loaded only when the package is installed. */
interface CborX {
  decode(bytes: Uint8Array): unknown;
  encode(value: unknown): Uint8Array;
  Decoder: new (options: object) => { decode(bytes: Uint8Array): unknown };
  Encoder: new (options: object) => { encode(value: unknown): Uint8Array };
  Tag: new (value: unknown, tag: number) => unknown;
  isNativeAccelerationEnabled: boolean;
}

async function loadCborX(): Promise<CborX | undefined> {
  const name = 'cbor-x';
  try {
    return (await import(name)) as CborX;
  } catch {
    return undefined;
  }
}

interface Case {
  readonly name: string;
  readonly op: () => unknown;
  /** Bytes written, for encoders. */
  readonly size?: () => number;
  readonly note?: string;
}

function cborxCases(cborx: CborX, readingObj: object): { encode: Case[]; decode: Case[]; cose: Case[] } {
  // cbor-x writes extension tags by default (64 for Uint8Array, 259 for Maps) and 16-bit map
  // headers; these options make it write plain CBOR that our decoder accepts.
  const standard = new cborx.Encoder({
    useRecords: false,
    mapsAsObjects: true,
    variableMapSize: true,
    tagUint8Array: false,
  });
  const maps = new cborx.Decoder({ mapsAsObjects: false, useRecords: false });
  // cbor-x writes a JS Map as tag 259 whatever the options; a plain object gives a plain map.
  const cose = new cborx.Tag([protectedHeader, {}, readingBytes, signature], 18);
  return {
    encode: [
      {
        name: 'reading encode: cbor-x defaults',
        op: () => cborx.encode(readingObj),
        size: () => cborx.encode(readingObj).length,
        note: 'not deterministic; 16-bit map headers',
      },
      {
        name: 'reading encode: cbor-x standard',
        op: () => standard.encode(readingObj),
        size: () => standard.encode(readingObj).length,
        note: 'insertion-order keys, float64',
      },
    ],
    decode: [
      { name: 'reading decode: cbor-x defaults', op: () => cborx.decode(readingBytes), note: 'objects' },
      { name: 'reading decode: cbor-x Maps', op: () => maps.decode(readingBytes), note: 'Maps' },
    ],
    cose: [
      {
        name: 'COSE encode: cbor-x defaults',
        op: () => cborx.encode(cose),
        size: () => cborx.encode(cose).length,
        note: 'tags 64 and 259 added',
      },
      {
        name: 'COSE encode: cbor-x standard',
        op: () => standard.encode(cose),
        size: () => standard.encode(cose).length,
      },
      { name: 'COSE decode: cbor-x defaults', op: () => cborx.decode(coseBytes) },
    ],
  };
}

function cases(cborx: CborX | undefined): Case[] {
  const readingObj = { ...reading, obs: reading.obs.map((o) => ({ ...o })) };
  const coseForCborg = coseValue((v) => new Tagged(18, v));
  const x = cborx === undefined ? { encode: [], decode: [], cose: [] } : cborxCases(cborx, readingObj);
  const cborgStrictTag18 = { ...strictDecode, tags: Tagged.preserve(18) };
  const cborgTag18 = { tags: Tagged.preserve(18) };
  return [
    // Reading, encode
    {
      name: 'reading encode: medgate encodeCbor',
      op: () => encodeCbor(readingObj),
      size: () => encodeCbor(readingObj).length,
      note: 'checks + RFC 8949 §4.2.1',
    },
    {
      name: 'reading encode: cborg rfc8949',
      op: () => cborgEncode(readingObj, rfc8949EncodeOptions),
      size: () => cborgEncode(readingObj, rfc8949EncodeOptions).length,
    },
    {
      name: 'reading encode: cborg defaults',
      op: () => cborgEncode(readingObj),
      size: () => cborgEncode(readingObj).length,
    },
    ...x.encode,
    // Reading, decode
    {
      name: 'reading decode: medgate decodeCbor',
      op: () => decodeCbor(readingBytes),
      note: 'pre-scan + cborg strict, Maps',
    },
    {
      name: 'reading decode: medgate + decodeReading',
      op: () => decodeReading(decodeCbor(readingBytes, READING_CBOR_LIMITS)),
      note: 'typed, frozen',
    },
    {
      name: 'reading decode: cborg strict',
      op: () => cborgDecode(readingBytes, strictDecode),
      note: 'no pre-scan',
    },
    { name: 'reading decode: cborg defaults', op: () => cborgDecode(readingBytes), note: 'objects' },
    ...x.decode,
    // COSE_Sign1-shaped, encode
    {
      name: 'COSE encode: medgate encodeCbor',
      op: () => encodeCbor(coseValue((v) => new CborTag(18, v))),
      size: () => coseBytes.length,
    },
    {
      name: 'COSE encode: cborg rfc8949',
      op: () => cborgEncode(coseForCborg, rfc8949EncodeOptions),
      size: () => cborgEncode(coseForCborg, rfc8949EncodeOptions).length,
    },
    {
      name: 'COSE encode: cborg defaults',
      op: () => cborgEncode(coseForCborg),
      size: () => cborgEncode(coseForCborg).length,
    },
    // COSE_Sign1-shaped, decode
    { name: 'COSE decode: medgate decodeCbor', op: () => decodeCbor(coseBytes, { tags: [18] }) },
    {
      name: 'COSE decode: cborg strict',
      op: () => cborgDecode(coseBytes, cborgStrictTag18),
    },
    { name: 'COSE decode: cborg defaults', op: () => cborgDecode(coseBytes, cborgTag18) },
    ...x.cose,
  ];
}

export async function run(options: BenchOptions = {}): Promise<Row[]> {
  const timing = {
    rounds: knob(options, 'MEDGATE_BENCH_ROUNDS', 5, 1),
    seconds: knob(options, 'MEDGATE_BENCH_SECONDS', 0.6, 0.05),
    batch: 64,
    warmup: 2000,
  };
  const cborx = await loadCborX();
  const rows: Row[] = [];
  for (const c of cases(cborx).filter((c) => wants(options, c.name))) {
    const size = c.size === undefined ? undefined : `${c.size()} B out`;
    rows.push(cpuRow(c.name, rate(c.op, timing), size, c.note));
  }
  if (wants(options, 'input sizes')) {
    rows.push({
      bench: 'input sizes',
      value: readingBytes.length,
      unit: 'B (reading)',
      note: `COSE-shaped ${coseBytes.length} B; ${cborx === undefined ? 'cbor-x not installed (npm i --no-save cbor-x to compare)' : `cbor-x native extract ${cborx.isNativeAccelerationEnabled ? 'on' : 'off'}`}; sink ${sunk() > 0}`,
    });
  }
  return rows;
}

if (isMain(import.meta.url)) await standalone(run);
