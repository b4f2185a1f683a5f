/**
 * The ledger writer seam of DESIGN §8: one component takes verified leaves (and, later,
 * signed transactions) and returns durable positions. The telemetry pipeline and the block
 * cutter depend on this interface only, so a cluster can put one writer behind it (with
 * read-only followers) without touching them. Today ReadingLog implements the leaf part;
 * the chain adds `submitTx` (signed transaction → durable position in a block) here.
 */

/** A reading the pipeline has verified and decided to log (not a replay, not a duplicate). */
export interface LeafInput {
  /** The reading's COSE_Sign1 bytes; the leaf is SHA-256(0x00 ‖ leafData) (RFC 9162 §2.1.1). */
  readonly leafData: Uint8Array;
  /** The device and seq named inside leafData (the log's uniqueness key; it does not decode leafData). */
  readonly deviceId: string;
  readonly seq: number;
  /**
   * SHA-256(0x00 ‖ leafData), when the caller computed it already (the pipeline does, for its
   * duplicate test): the log then does not hash the bytes again. It must be that hash.
   */
  readonly leafHash?: Uint8Array;
}

/** Where a leaf landed. */
export interface LeafPosition {
  readonly index: number;
  readonly leafHash: Uint8Array;
}

/** A tree head of the reading log (what a block header's `log` field carries). */
export interface LogCheckpoint {
  readonly size: number;
  readonly root: Uint8Array;
}

export interface Sequencer {
  /**
   * Appends one leaf. Resolves only once the leaf is durable (fsynced): only then may the
   * caller acknowledge the reading (MQTT PUBACK, DESIGN §4). Rejects with
   * MG_ERR_DUPLICATE_LEAF if (deviceId, seq) is already logged.
   */
  appendLeaf(input: LeafInput): Promise<LeafPosition>;
  /** The durable size and its root, taken at one instant. */
  checkpoint(): LogCheckpoint;
  /** Finishes pending appends, then refuses new ones. */
  close(): Promise<void>;
}
