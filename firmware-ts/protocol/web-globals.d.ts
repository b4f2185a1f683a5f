/**
 * The few web-platform globals the protocol uses. Node 20 and every browser provide them;
 * declaring them here keeps `lib` free of DOM, so protocol code cannot reach for `document`,
 * `fetch` or Node's Buffer by accident.
 */
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  decode(input?: Uint8Array): string;
}
declare function atob(data: string): string;
declare function btoa(data: string): string;
declare const crypto: { getRandomValues<T extends Uint8Array>(array: T): T };
