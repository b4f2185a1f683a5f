/**
 * The web console's files (issue 8), resolved through a strict allow-list: the page and its
 * stylesheet, the console's modules compiled by tsc (dist/gateway/console), the protocol modules
 * they import (dist/firmware-ts/protocol, browser-safe ones only) and five browser libraries
 * from node_modules, each limited to the files the browser imports. Nothing else under the
 * repository is reachable: every URL segment must be a plain file name (no `.`, `..`, slash or
 * backslash after percent-decoding), the path must match its table's pattern, and the real path
 * (symlinks resolved) must stay inside the table's directory.
 */
import { realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';

export type AssetType = 'js' | 'css';

export const ASSET_CONTENT_TYPES: Readonly<Record<AssetType, string>> = Object.freeze({
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
});

/** One directory and the relative paths under it that may be served. */
export interface AssetTable {
  /** Relative to the package root. */
  readonly dir: string;
  /** Tested against the path under `dir`, segments joined with `/`. */
  readonly allow: RegExp;
}

/** URL prefix of each table, under `/console/`: `/console/{prefix}/{path}`. */
export const CONSOLE_ASSET_TABLES: Readonly<Record<string, AssetTable>> = Object.freeze({
  static: Object.freeze({ dir: 'gateway/console/static', allow: /^[a-z][a-z0-9-]*\.css$/ }),
  // The compiled console, and the protocol modules it imports; ed25519/node.js is Node-only.
  app: Object.freeze({
    dir: 'dist',
    allow:
      /^(?:gateway\/console\/[a-z][a-z0-9-]*\.js|firmware-ts\/protocol\/(?:(?:decode|merkle|tx)\/)?[a-z][a-z0-9-]*\.js|firmware-ts\/protocol\/ed25519\/(?:noble|policy|types)\.js)$/,
  }),
  'noble-ed25519': Object.freeze({ dir: 'node_modules/@noble/ed25519', allow: /^index\.js$/ }),
  'noble-hashes': Object.freeze({ dir: 'node_modules/@noble/hashes', allow: /^[a-z_][a-z0-9_-]*\.js$/ }),
  // cborg's command-line tool (lib/bin.js) imports Node's process: never a browser file.
  cborg: Object.freeze({
    dir: 'node_modules/cborg',
    allow: /^(?:cborg\.js|lib\/(?!bin\.js$)[a-z0-9][a-z0-9_-]*\.js)$/,
  }),
  mqtt: Object.freeze({ dir: 'node_modules/mqtt/dist', allow: /^mqtt\.esm\.js$/ }),
  uplot: Object.freeze({ dir: 'node_modules/uplot/dist', allow: /^uPlot\.(?:esm\.js|min\.css)$/ }),
});

/**
 * The import map of the page: bare specifiers of the console and protocol modules, mapped to
 * the vendor tables above. `@noble/hashes/` is a prefix (`@noble/hashes/sha2.js`).
 */
export const CONSOLE_IMPORT_MAP = Object.freeze({
  imports: Object.freeze({
    '@noble/ed25519': '/console/noble-ed25519/index.js',
    '@noble/hashes/': '/console/noble-hashes/',
    cborg: '/console/cborg/cborg.js',
    mqtt: '/console/mqtt/mqtt.esm.js',
    uplot: '/console/uplot/uPlot.esm.js',
  }),
});

/** Most path segments under `/console/` (app/firmware-ts/protocol/merkle/x.js). */
export const MAX_ASSET_SEGMENTS = 5;

/** A plain file or directory name: starts with a letter, digit or `_`, so never `.` or `..`. */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;

export interface ResolvedAsset {
  /** Absolute path of the file (not yet checked for symlinks: see `confineAsset`). */
  readonly file: string;
  /** Absolute path of its table's directory. */
  readonly base: string;
  readonly type: AssetType;
}

/**
 * The file that `/console/{segments...}` names, or undefined when the allow-list refuses it.
 * `segments` are percent-decoded path segments after `/console/`. Pure: no file system access.
 */
export function resolveConsoleAsset(root: string, segments: readonly string[]): ResolvedAsset | undefined {
  if (segments.length < 2 || segments.length > MAX_ASSET_SEGMENTS) return undefined;
  if (!segments.every((s) => SEGMENT.test(s) && !s.includes('..'))) return undefined;
  const [prefix, ...rest] = segments;
  if (!Object.hasOwn(CONSOLE_ASSET_TABLES, prefix!)) return undefined;
  const table = CONSOLE_ASSET_TABLES[prefix!]!;
  const path = rest.join('/');
  if (!table.allow.test(path)) return undefined;
  const base = join(root, table.dir);
  return Object.freeze({
    file: join(base, ...rest),
    base,
    type: path.endsWith('.css') ? 'css' : 'js',
  });
}

/**
 * The real path of `asset.file` if it stays inside its table's directory once symlinks are
 * resolved; undefined if it does not exist or escapes.
 */
export async function confineAsset(asset: ResolvedAsset): Promise<string | undefined> {
  try {
    const [file, base] = await Promise.all([realpath(asset.file), realpath(asset.base)]);
    return file.startsWith(base + sep) ? file : undefined;
  } catch {
    return undefined;
  }
}
