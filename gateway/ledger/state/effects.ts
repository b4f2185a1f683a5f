/**
 * What an applied transaction changed, for the gateway to act on (disconnect a revoked device,
 * offer an authorised rollout, notify admins). Effects are derived data: the state holds the
 * truth, and replaying the chain produces the same effects again.
 */
import type { ActionType } from '../../../firmware-ts/protocol/tx/types.js';
import type { DeviceStatus } from './state.js';

export type Effect =
  | { readonly type: 'device.enrolled'; readonly dev: string; readonly status: DeviceStatus }
  | { readonly type: 'device.approved'; readonly dev: string }
  | { readonly type: 'device.revoked'; readonly dev: string }
  | { readonly type: 'device.rotated'; readonly dev: string; readonly kid: string }
  | { readonly type: 'admin.added' | 'admin.removed'; readonly id: string }
  | { readonly type: 'vendor.registered' | 'clinician.registered'; readonly id: string }
  | { readonly type: 'governance.changed'; readonly threshold: number }
  | { readonly type: 'policy.changed'; readonly model: string }
  | {
      readonly type: 'access.granted' | 'access.revoked';
      readonly clinician: string;
      readonly devs: readonly string[];
    }
  | {
      readonly type: 'firmware.released';
      readonly release: string;
      readonly model: string;
      readonly seq: number;
    }
  | {
      readonly type: 'proposal.created' | 'proposal.approved';
      readonly proposal: string;
      readonly action: ActionType;
      readonly approvals: number;
      readonly required: number;
    }
  | { readonly type: 'proposal.executed'; readonly proposal: string; readonly action: ActionType }
  | { readonly type: 'rollout.authorized'; readonly rollout: string; readonly model: string }
  | { readonly type: 'rollout.halted'; readonly rollout: string; readonly reason: string }
  | {
      readonly type: 'update.reported';
      readonly rollout: string;
      readonly dev: string;
      readonly state: string;
    };
