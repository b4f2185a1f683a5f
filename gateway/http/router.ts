/**
 * A tiny router for the HTTP API: a handful of routes, each `METHOD /literal/:param/...`.
 * Our own rather than a framework's: about twenty routes need no dependency, and owning the
 * request path lets every body limit, JSON parse and error shape be the same everywhere.
 * Path segments are percent-decoded once; a bad escape is a 400, an unknown path a 404, a
 * known path with another method a 405 with `Allow`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayErrorCode } from '../errors.js';
import { HttpError } from './respond.js';

export type Method = 'GET' | 'POST';

export interface RouteContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** Path and query as requested (for FHIR `self` links). */
  readonly url: URL;
}

export type Handler = (ctx: RouteContext) => Promise<void> | void;

interface Route {
  readonly method: Method;
  /** The pattern, e.g. `/v1/devices/:id`: a bounded label for metrics and logs. */
  readonly name: string;
  readonly segments: readonly string[];
  readonly handler: Handler;
}

export type Match =
  | {
      readonly kind: 'route';
      readonly name: string;
      readonly handler: Handler;
      readonly params: Record<string, string>;
    }
  | { readonly kind: 'method'; readonly allowed: readonly Method[] }
  | { readonly kind: 'none' };

function split(path: string): string[] {
  return path.split('/').slice(1);
}

export class Router {
  readonly #routes: Route[] = [];

  add(method: Method, pattern: string, handler: Handler): this {
    this.#routes.push({ method, name: pattern, segments: split(pattern), handler });
    return this;
  }

  get(pattern: string, handler: Handler): this {
    return this.add('GET', pattern, handler);
  }

  post(pattern: string, handler: Handler): this {
    return this.add('POST', pattern, handler);
  }

  /** The route for `method` and `pathname`; HttpError 400 for a malformed percent escape. */
  match(method: string, pathname: string): Match {
    const parts = split(pathname);
    const allowed: Method[] = [];
    for (const route of this.#routes) {
      const params = matchSegments(route.segments, parts);
      if (params === undefined) continue;
      if (route.method === method) return { kind: 'route', name: route.name, handler: route.handler, params };
      allowed.push(route.method);
    }
    return allowed.length > 0 ? { kind: 'method', allowed } : { kind: 'none' };
  }
}

function matchSegments(
  pattern: readonly string[],
  parts: readonly string[],
): Record<string, string> | undefined {
  if (pattern.length !== parts.length) return undefined;
  const params: Record<string, string> = Object.create(null);
  for (let i = 0; i < pattern.length; i++) {
    const want = pattern[i]!;
    const got = parts[i]!;
    if (want.startsWith(':')) {
      if (got === '') return undefined;
      params[want.slice(1)] = decodeSegment(got, want.slice(1));
    } else if (want !== got) {
      return undefined;
    }
  }
  return params;
}

function decodeSegment(segment: string, name: string): string {
  try {
    return decodeURIComponent(segment);
  } catch (cause) {
    throw new HttpError(400, GatewayErrorCode.HTTP_BAD_PARAM, `${name}: malformed percent-encoding`, {
      field: name,
      cause,
    });
  }
}
