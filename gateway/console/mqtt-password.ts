/**
 * A binary MQTT password from the browser. The connect token is COSE bytes (DESIGN §3), but
 * mqtt.js's browser bundle accepts a password only as a string or as its own bundled Buffer
 * class, which it does not export; a string is sent as UTF-8 and would mangle the bytes. So the
 * page hands mqtt.js a placeholder string of exactly the token's length (ASCII, one byte per
 * character, so the packet's 2-byte length prefix is right, MQTT 3.1.1 §3.1.3.5) and swaps the
 * token's bytes in when the CONNECT packet goes out on the WebSocket. Nothing else is touched.
 */

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A random ASCII placeholder of `length` characters (from `random`, one byte each). */
export function passwordPlaceholder(random: Uint8Array): string {
  let out = '';
  for (const b of random) out += LETTERS[b % LETTERS.length];
  return out;
}

/** Index of `needle` in `haystack`, or -1. */
function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * A copy of `frame` with the length-prefixed placeholder replaced by `token`, or undefined when
 * the frame does not carry it. `placeholder` and `token` must have the same length.
 */
export function patchPassword(
  frame: Uint8Array,
  placeholder: string,
  token: Uint8Array,
): Uint8Array | undefined {
  if (placeholder.length !== token.length || token.length > 0xffff) {
    throw new RangeError('the placeholder and the token must have the same length (at most 65535)');
  }
  const needle = new Uint8Array(2 + placeholder.length);
  needle[0] = token.length >> 8;
  needle[1] = token.length & 0xff;
  for (let i = 0; i < placeholder.length; i++) needle[2 + i] = placeholder.charCodeAt(i);
  const at = indexOf(frame, needle);
  if (at < 0) return undefined;
  const out = frame.slice();
  out.set(token, at + 2);
  return out;
}
