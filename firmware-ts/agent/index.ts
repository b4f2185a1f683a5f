/**
 * The device side of firmware updates (DESIGN §5): imports only firmware-ts/protocol, uses no
 * platform API, and takes storage, transport, clock, self-test, reporting and logging as
 * injected interfaces, so it runs in the simulator and on a device port alike.
 */
export {
  type OfferOutcome,
  type OfferStatus,
  type SelfTestInfo,
  UpdateAgent,
  type UpdateAgentOptions,
} from './agent.js';
export { type CheckedOffer, checkOffer, type OfferContext } from './check-offer.js';
export { DeviceState, type Progress, STATE_KEYS, type Trial } from './device-state.js';
export {
  type ChunkTransport,
  DEFAULT_DOWNLOAD_LIMITS,
  type DownloadLimits,
  download,
  hashSlot,
} from './download.js';
export { UpdateErrorCode } from './errors.js';
export { type Clock, type Delay, type LogFn, type LogLevel, silentLog, systemClock } from './ports.js';
export { signReport } from './report.js';
export {
  type KeyValueStore,
  MemoryKeyValue,
  MemorySlots,
  otherSlot,
  type SlotId,
  type SlotStorage,
} from './slots.js';
export {
  adminByKid,
  type RolloutRequirement,
  rolloutRequirement,
  TrustStore,
  verifyReplacement,
} from './trust.js';
