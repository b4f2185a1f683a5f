/**
 * Firmware update wire format v1 (DESIGN §5), shared by the gateway that offers and serves an
 * update and the device agent that checks and installs it. Decoders are strict and bounded and
 * refuse with the protocol's codes (MG_ERR_CBOR_*, MG_ERR_BAD_FIELD, MG_ERR_MISSING_FIELD,
 * MG_ERR_UNKNOWN_FIELD); encoders throw MG_ERR_BAD_ARGUMENT for what would not decode.
 *
 * API (stable):
 *   encodeOffer(offer: Offer): Uint8Array            decodeOffer(bytes): Offer
 *   completingTx(offer): Uint8Array   the tx that block/txIndex/txPath prove (last approval, else proposal)
 *   encodeChunkRequest(req: ChunkRequest): Uint8Array   decodeChunkRequest(bytes): ChunkRequest
 *   encodeChunk(chunk: Chunk): Uint8Array               decodeChunk(bytes): Chunk
 *   encodeBundle(bundle: TrustBundle): Uint8Array       decodeBundle(bytes): TrustBundle
 *   signBundle(bundle: TrustBundle, adminSigners: CoseSigner[], chainId: string): Uint8Array
 *     → an encoded replacement `{bundle, sigs}`; chainId = the chain of the bundle it replaces
 *   decodeBundleReplacement(bytes): BundleReplacement   (signatures not verified: agent/trust.ts)
 *   decodeGenesisTrust(genesisConfigBytes): GenesisTrust
 *   buildFactoryBundle(genesis: GenesisTrust, seq = 0): TrustBundle   (gateway GenesisConfig fits)
 *   bundlePolicy(ledgerPolicy: PolicySetBody): BundlePolicy   a ledger policy as a bundle entry
 *   bundlePolicyFor(bundle, model): BundlePolicy | undefined   the model's entry, else '*'
 *   UPDATE_LIMITS, UPDATE_WIRE_VERSION
 */
export {
  type BundleAdmin,
  type BundlePolicy,
  type BundleReplacement,
  type BundleVendor,
  buildFactoryBundle,
  bundlePolicy,
  bundlePolicyFor,
  decodeBundle,
  decodeBundleReplacement,
  decodeGenesisTrust,
  encodeBundle,
  FACTORY_BUNDLE_FILE,
  type GenesisTrust,
  signBundle,
  type TrustBundle,
} from './bundle.js';
export {
  type Chunk,
  type ChunkRequest,
  decodeChunk,
  decodeChunkRequest,
  encodeChunk,
  encodeChunkRequest,
} from './chunk.js';
export { UPDATE_LIMITS, UPDATE_WIRE_VERSION } from './limits.js';
export { completingTx, decodeOffer, encodeOffer, type Offer } from './offer.js';
