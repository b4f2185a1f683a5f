/**
 * Request bodies, read with a hard size bound: a declared Content-Length over the bound is
 * refused before a byte is read, and a chunked body is refused as soon as it crosses it. The
 * connection is then closed after the 413 so that the rest of the upload is not waited for.
 */
import type { IncomingMessage } from 'node:http';
import { GatewayErrorCode } from '../errors.js';
import { safeJsonParse } from '../util/safe-json.js';
import { HttpError } from './respond.js';

function tooLarge(maxBytes: number, got?: number): HttpError {
  return new HttpError(
    413,
    GatewayErrorCode.HTTP_BODY_TOO_LARGE,
    `the request body exceeds ${maxBytes} bytes`,
    {
      got,
      want: maxBytes,
    },
  );
}

/**
 * The whole body, at most `maxBytes`; HttpError 413 MG_ERR_HTTP_BODY_TOO_LARGE beyond. Events,
 * not `for await`: leaving an async iterator early destroys the socket, and the 413 would be lost.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Uint8Array> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    req.resume(); // discard; the server closes the connection after the 413
    return Promise.reject(tooLarge(maxBytes, Number(declared)));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        req.off('data', onData);
        req.off('end', onEnd);
        req.resume();
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => resolve(new Uint8Array(Buffer.concat(chunks, size)));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', reject);
  });
}

/** The media type of Content-Type without parameters, lower-cased ('' when absent). */
export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** A JSON body parsed with prototype-poisoning protection (safeJsonParse). */
export async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  return safeJsonParse(await readBody(req, maxBytes), { maxLength: maxBytes, maxDepth: 8 });
}
