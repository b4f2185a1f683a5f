/**
 * Enrols devices on a `medgate init --demo` directory before any gateway runs on it: one
 * `device.enrol` per device signed by the demo admin alice, submitted to the ledger directly
 * (what `medgate device enrol` would submit over HTTP).
 */
import { signTx } from '../../firmware-ts/protocol/tx/sign.js';
import { Ledger } from '../../gateway/ledger/ledger.js';
import type { TestGateway } from '../gateway/harness.js';

export interface DeviceToEnrol {
  readonly dev: string;
  readonly pub: Uint8Array;
  /** Default: the demo index's model of `dev`, else wearable-v1. */
  readonly model?: string;
}

export async function enrolDevices(gw: TestGateway, devices: readonly DeviceToEnrol[]): Promise<void> {
  const ledger = await Ledger.open(gw.dir, { blockIntervalMs: 50 });
  try {
    let nonce = ledger.state.nonces.get('admin:alice') ?? 0;
    await Promise.all(
      devices.map(({ dev, pub, model }) => {
        const demo = gw.index.keys.find((k) => k.role === 'device' && k.id === dev)?.model;
        const tx = {
          type: 'device.enrol' as const,
          chain: gw.chain,
          actor: 'admin:alice',
          nonce: ++nonce,
          t: Date.now(),
          body: { dev, pub, model: model ?? demo ?? 'wearable-v1' },
        };
        return ledger.submitTx(signTx(tx, gw.key('admin:alice').signer));
      }),
    );
  } finally {
    await ledger.close();
  }
}
