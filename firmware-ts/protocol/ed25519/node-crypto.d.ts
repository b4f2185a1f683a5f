/**
 * The few node:crypto functions the node backend (node.ts) uses, declared here instead of loading
 * @types/node into the protocol project: its globals (Buffer, process) would then type-check in
 * every protocol file, which web-globals.d.ts exists to prevent. Signatures follow Node 20's docs;
 * Buffers are typed as the Uint8Array they extend.
 */
declare module 'node:crypto' {
  interface KeyObject {
    readonly type: 'secret' | 'public' | 'private';
    readonly asymmetricKeyType?: string;
    export(options: { format: 'der'; type: 'spki' | 'pkcs8' }): Uint8Array;
  }
  interface DerKeyInput {
    key: Uint8Array;
    format: 'der';
    type: 'spki' | 'pkcs8';
  }
  function createPrivateKey(key: DerKeyInput): KeyObject;
  function createPublicKey(key: DerKeyInput | KeyObject): KeyObject;
  function randomFillSync<T extends Uint8Array>(buffer: T): T;
  function sign(algorithm: null, data: Uint8Array, key: KeyObject): Uint8Array;
  function verify(algorithm: null, data: Uint8Array, key: KeyObject, signature: Uint8Array): boolean;
}
