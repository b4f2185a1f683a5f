/**
 * CBOR encode/s and decode/s, single-threaded, for the CBOR library decision
 * (docs/decisions/cbor.md): a typical reading (4 observations) and a COSE_Sign1-shaped item
 * (tag 18 around [protected bstr, {}, payload bstr, 64-byte signature]), with
 *   - medgate's own encodeCbor / decodeCbor (cborg plus the pre-walk / pre-scan),
 *   - cborg with our strict options but no pre-scan, and cborg with its defaults,
 *   - cbor-x with its defaults, and with the options that make it write standard CBOR.
 * Each figure is the median of several rounds, counted per second of this thread's CPU time
 * (robust when other processes share the machine) and per wall-clock second.
 *
 *   npx tsx test/bench/cbor.ts
 *
 * Env: MEDGATE_BENCH_ROUNDS (default 5), MEDGATE_BENCH_SECONDS per round (0.6).
 */
import { pathToFileURL } from 'node:url';
import {
  decode as cborxDecode,
  encode as cborxEncode,
  Decoder,
  Encoder,
  isNativeAccelerationEnabled,
  Tag,
} from 'cbor-x';
import { decode as cborgDecode, encode as cborgEncode, rfc8949EncodeOptions, Tagged } from 'cborg';
import { CborTag, decodeCbor, encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { READING_CBOR_LIMITS } from '../../firmware-ts/protocol/decode/limits.js';
import { decodeReading, type Reading } from '../../firmware-ts/protocol/decode/reading.js';

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  target?: number;
  note?: string;
}

const env = (name: string, fallback: number): number => {
  const v = process.env[name];
  return v === undefined ? fallback : Number(v);
};

interface Rate {
  /** Operations per second of CPU time used by this thread. */
  readonly cpu: number;
  /** Operations per second of wall-clock time. */
  readonly wall: number;
}

const median = (xs: number[]): number => Math.round(xs.sort((a, b) => a - b)[xs.length >> 1] as number);

/** Side effects the optimiser cannot drop. */
let sink = 0;

function rate(op: () => unknown, rounds: number, seconds: number): Rate {
  for (let i = 0; i < 2000; i++) op(); // warm-up
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    const end = start + seconds * 1000;
    let count = 0;
    let now = start;
    while (now < end) {
      for (let k = 0; k < 64; k++) if (op() !== undefined) sink++;
      count += 64;
      now = performance.now();
    }
    const used = process.cpuUsage(cpuStart);
    cpu.push(count / ((used.user + used.system) / 1e6));
    wall.push(count / ((now - start) / 1000));
  }
  return { cpu: median(cpu), wall: median(wall) };
}

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

// cbor-x writes extension tags by default (64 for Uint8Array, 259 for Maps) and 16-bit map
// headers; these options make it write plain CBOR that our decoder accepts.
const cborxStandard = new Encoder({
  useRecords: false,
  mapsAsObjects: true,
  variableMapSize: true,
  tagUint8Array: false,
});
const cborxMaps = new Decoder({ mapsAsObjects: false, useRecords: false });

interface Case {
  readonly name: string;
  readonly op: () => unknown;
  /** Bytes written, for encoders. */
  readonly size?: () => number;
  readonly note?: string;
}

function cases(): Case[] {
  const readingObj = { ...reading, obs: reading.obs.map((o) => ({ ...o })) };
  const coseForCborg = coseValue((v) => new Tagged(18, v));
  // cbor-x writes a JS Map as tag 259 whatever the options; a plain object gives a plain map.
  const cborgStrictTag18 = { ...strictDecode, tags: Tagged.preserve(18) };
  const cborgTag18 = { tags: Tagged.preserve(18) };
  const coseForCborx = new Tag([protectedHeader, {}, readingBytes, signature], 18);
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
    {
      name: 'reading encode: cbor-x defaults',
      op: () => cborxEncode(readingObj),
      size: () => cborxEncode(readingObj).length,
      note: 'not deterministic; 16-bit map headers',
    },
    {
      name: 'reading encode: cbor-x standard',
      op: () => cborxStandard.encode(readingObj),
      size: () => cborxStandard.encode(readingObj).length,
      note: 'insertion-order keys, float64',
    },
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
    { name: 'reading decode: cbor-x defaults', op: () => cborxDecode(readingBytes), note: 'objects' },
    { name: 'reading decode: cbor-x Maps', op: () => cborxMaps.decode(readingBytes), note: 'Maps' },
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
    {
      name: 'COSE encode: cbor-x defaults',
      op: () => cborxEncode(coseForCborx),
      size: () => cborxEncode(coseForCborx).length,
      note: 'tags 64 and 259 added',
    },
    {
      name: 'COSE encode: cbor-x standard',
      op: () => cborxStandard.encode(coseForCborx),
      size: () => cborxStandard.encode(coseForCborx).length,
    },
    // COSE_Sign1-shaped, decode
    { name: 'COSE decode: medgate decodeCbor', op: () => decodeCbor(coseBytes, { tags: [18] }) },
    {
      name: 'COSE decode: cborg strict',
      op: () => cborgDecode(coseBytes, cborgStrictTag18),
    },
    { name: 'COSE decode: cborg defaults', op: () => cborgDecode(coseBytes, cborgTag18) },
    { name: 'COSE decode: cbor-x defaults', op: () => cborxDecode(coseBytes) },
  ];
}

export async function run(): Promise<BenchRow[]> {
  const rounds = env('MEDGATE_BENCH_ROUNDS', 5);
  const seconds = env('MEDGATE_BENCH_SECONDS', 0.6);
  const rows: BenchRow[] = [];
  for (const c of cases()) {
    const r = rate(c.op, rounds, seconds);
    const size = c.size === undefined ? '' : `${c.size()} B out; `;
    rows.push({
      name: c.name,
      value: r.cpu,
      unit: 'ops/CPU-s',
      note: `${size}${c.note === undefined ? '' : `${c.note}; `}wall ${r.wall.toLocaleString('en-US')}/s`,
    });
  }
  rows.push({
    name: 'input sizes',
    value: readingBytes.length,
    unit: 'B (reading)',
    note: `COSE-shaped ${coseBytes.length} B; cbor-x native extract ${isNativeAccelerationEnabled ? 'on' : 'off'}; sink ${sink > 0}`,
  });
  return rows;
}

function print(rows: BenchRow[]): void {
  console.table(
    rows.map((r) => ({
      bench: r.name,
      value: r.value.toLocaleString('en-US'),
      unit: r.unit,
      note: r.note ?? '',
    })),
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  print(await run());
}
