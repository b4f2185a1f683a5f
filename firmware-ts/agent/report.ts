/**
 * The device-signed update status (update wire format v1): the COSE bytes of an `update.report`
 * transaction signed by the device's own key, actor = the bare device id, published on
 * `mg/v1/dev/{id}/update/status`. The gateway submits it to the ledger as it is.
 */
import type { CoseSigner } from '../protocol/cose.js';
import { signTx } from '../protocol/tx/sign.js';
import type { UpdateReportBody } from '../protocol/tx/types.js';

export interface ReportIdentity {
  readonly deviceId: string;
  readonly chain: string;
  readonly signer: CoseSigner;
}

/** Signs one report; `nonce` must rise per device (DESIGN §4), `t` is the device clock. */
export function signReport(id: ReportIdentity, body: UpdateReportBody, nonce: number, t: number): Uint8Array {
  return signTx({ type: 'update.report', chain: id.chain, actor: id.deviceId, nonce, t, body }, id.signer);
}
