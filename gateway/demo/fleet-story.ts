/**
 * A fleet and a firmware update (DESIGN §5, §7): the gateway restarts over the same ledger, the
 * device simulator (its own process, MQTT only) enrols three wearables with the vendor's
 * attestation and streams, Dr Lee watches the verified feed, acme signs firmware, alice
 * releases it and proposes a staged rollout, bob's approval makes 2 of 3, the devices check the
 * approvals themselves, install in waves, one fails its self-test and rolls back, and every
 * signed status is on the ledger. Each admin step is the `medgate` command an operator types.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { verifiedTopic } from '../../firmware-ts/protocol/topics.js';
import {
  parseVerifiedReading,
  type VerifiedReading,
  verifyVerifiedReading,
} from '../../firmware-ts/protocol/verified-reading.js';
import { clinicianCommands } from '../cli/commands/clinician.js';
import { firmwareCommands } from '../cli/commands/firmware.js';
import { rolloutCommands } from '../cli/commands/rollout.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../log.js';
import { type RunningGateway, startGateway } from '../server.js';
import { runMedgate } from './cli-runner.js';
import { check, type Narrator } from './narrator.js';
import { connectMqtt, connectToken, demoKeyPath, loadPrincipal, readDemoIndex } from './principals.js';
import { eventsOf, type SimEvent, type SimProcess, startSim } from './sim-process.js';

const FLEET = 3;
const MODEL = 'wearable-v1';
/** Factory firmware of the simulated devices is seq 1; the release must be above it. */
const RELEASE = { seq: '2', version: '1.1.0', size: 48 * 1024 } as const;
const WAIT_MS = 30_000;

const cli = [...clinicianCommands, ...firmwareCommands, ...rolloutCommands];

export async function fleetStory(narrator: Narrator, dir: string): Promise<void> {
  const index = await readDemoIndex(dir);
  const key = (role: string, id: string) => demoKeyPath(dir, index, role, id);
  /** Command lines and outputs with the temporary data directory written as $DATA. */
  const shown = (lines: readonly string[]) => lines.map((l) => l.replaceAll(dir, '$DATA'));
  let gateway: RunningGateway | undefined;
  let sim: SimProcess | undefined;
  let feed: MqttClient | undefined;
  let api: string[] = [];
  let devices: string[] = [];
  let rollout = '';
  const delivered: VerifiedReading[] = [];

  try {
    await narrator.step('The gateway starts again over the same ledger.', async () => {
      const config = loadConfig({
        env: {},
        flags: { data: dir, 'mqtt-port': '0', 'ws-port': '0', 'http-port': '0', 'block-interval-ms': '100' },
      });
      gateway = await startGateway(config, { log: createLogger({ level: 'silent' }) });
      api = ['--gateway', `http://127.0.0.1:${gateway.ports.http}`];
      return [
        `block height ${gateway.ledger.tip.header.height}, ${gateway.ledger.log.size} readings in the log`,
      ];
    });

    await narrator.step(
      `A simulated fleet of ${FLEET} wearables enrols itself with acme's attestation and streams.`,
      async () => {
        sim = startSim([
          '--mqtt',
          `mqtt://127.0.0.1:${gateway!.ports.mqtt}`,
          '--data',
          dir,
          '--state',
          join(dir, 'sim-state'),
          '--devices',
          String(FLEET),
          '--profile',
          'wearable',
          '--seed',
          'medgate-demo',
          '--time-scale',
          '3',
          '--episodes',
          '30',
          '--fail-selftest',
          '1',
        ]);
        await sim.until(
          'the fleet to enrol and stream',
          (events) => {
            const enrolled = eventsOf(events, 'enrol', { result: 'accepted' });
            return (
              enrolled.length === FLEET &&
              enrolled.every((e) => eventsOf(events, 'accepted', { dev: e.dev }).length >= 3)
            );
          },
          WAIT_MS,
        );
        devices = eventsOf(sim.events, 'enrol', { result: 'accepted' })
          .map((e) => e.dev!)
          .sort();
        return [
          `${devices.join(', ')}: self-enrolled (model ${MODEL}, policy "auto"), signed readings acknowledged`,
        ];
      },
    );

    await narrator.step(
      "Dr Lee is granted the fleet and checks each reading's signature herself.",
      async () => {
        const grant = await runMedgate(cli, [
          'clinician',
          'grant',
          'dr-lee',
          ...devices,
          ...api,
          '--admin-key',
          key('admin', 'alice'),
        ]);
        const clinician = await loadPrincipal(dir, index, 'clinician', 'dr-lee');
        const principal = `clinician:${clinician.id}`;
        feed = await connectMqtt(
          `mqtt://127.0.0.1:${gateway!.ports.mqtt}`,
          principal,
          connectToken(clinician, principal, index.chain),
        );
        feed.on('message', (_topic, payload) =>
          delivered.push(parseVerifiedReading(new Uint8Array(payload))),
        );
        await feed.subscribeAsync(
          devices.map((d) => verifiedTopic(d)),
          { qos: 1 },
        );
        await until('six verified readings', () => delivered.length >= 6, WAIT_MS);
        const lines = shown([grant.line]);
        for (const r of delivered.slice(0, 6)) {
          // The ledger's key for the reading's kid; verify throws unless that key signed it.
          const epoch = gateway!.ledger.state.devices.get(r.dev)?.keys.find((k) => k.kid === toHex(r.kid));
          check(epoch !== undefined, `the ledger holds ${r.dev}'s key`);
          verifyVerifiedReading(r, epoch!.pub, nodeBackend);
          const vitals = r.obs.map((o) => `${o.display} ${o.v} ${o.u}`).join(', ');
          const alerts = r.alerts?.length ? `  ALERT ${r.alerts.map((a) => a.display).join(', ')}` : '';
          lines.push(`${r.dev} #${r.seq}: ${vitals} [signature ok, leaf ${r.leafIndex}]${alerts}`);
        }
        return lines;
      },
    );

    const image = join(dir, 'wearable-fw-1.1.0.bin');
    const manifest = join(dir, 'wearable-fw-1.1.0.manifest');
    await narrator.step(
      `acme signs firmware ${RELEASE.version} (seq ${RELEASE.seq}) for ${MODEL}; alice releases it.`,
      async () => {
        await writeFile(image, randomBytes(RELEASE.size));
        const sign = await runMedgate(cli, [
          'firmware',
          'sign',
          '--vendor-key',
          key('vendor', 'acme'),
          '--image',
          image,
          '--model',
          MODEL,
          '--seq',
          RELEASE.seq,
          '--version',
          RELEASE.version,
          '--out',
          manifest,
          ...api,
        ]);
        const release = await runMedgate(cli, [
          'firmware',
          'release',
          manifest,
          image,
          ...api,
          '--admin-key',
          key('admin', 'alice'),
        ]);
        return shown([sign.line, ...sign.out, release.line, ...release.out]);
      },
    );

    await narrator.step('alice proposes a rollout in two waves; bob approves: 2 of 3 admins.', async () => {
      const propose = await runMedgate(cli, [
        'rollout',
        'propose',
        '--manifest',
        manifest,
        '--devices',
        devices.join(','),
        '--waves',
        '1,2',
        '--max-failures',
        '2',
        '--expires',
        '+1h',
        ...api,
        '--admin-key',
        key('admin', 'alice'),
        '--json',
      ]);
      rollout = (JSON.parse(propose.out.join('\n')) as { rollout: string }).rollout;
      check(!gateway!.ledger.state.rollouts.has(rollout), 'one approval does not authorise the rollout');
      const approve = await runMedgate(cli, [
        'rollout',
        'approve',
        rollout,
        ...api,
        '--admin-key',
        key('admin', 'bob'),
      ]);
      check(gateway!.ledger.state.rollouts.has(rollout), 'two approvals authorise it');
      return shown([propose.line, approve.line, ...approve.out]);
    });

    await narrator.step(
      'The devices check the approvals themselves, install wave by wave; one fails its self-test and rolls back.',
      async () => {
        const ended = (events: readonly SimEvent[]) =>
          events.filter(
            (e) => e.event === 'firmware' && (e.state === 'confirmed' || e.state === 'rolledBack'),
          );
        await sim!.until(
          'every device to finish the update',
          (events) => ended(events).length >= FLEET,
          WAIT_MS,
        );
        const outcomes = ended(sim!.events).map(
          (e) => `${e.dev}: ${String(e.state)}${typeof e.code === 'string' ? ` (${e.code})` : ''}`,
        );
        check(
          eventsOf(sim!.events, 'firmware', { state: 'confirmed' }).length === FLEET - 1,
          'two confirmed',
        );
        check(eventsOf(sim!.events, 'firmware', { state: 'rolledBack' }).length === 1, 'one rolled back');
        return outcomes;
      },
    );

    await narrator.step("Every device's signed status is on the ledger.", async () => {
      // The last report is acknowledged once a block holds it; wait for that block.
      const reported = () => {
        const r = gateway!.ledger.state.rollouts.get(rollout);
        return r !== undefined && r.confirmed + r.failures === FLEET;
      };
      await until('the last report to be in a block', reported, WAIT_MS);
      const status = await runMedgate(cli, ['rollout', 'status', rollout, ...api, '--json']);
      const view = JSON.parse(status.out.join('\n')) as {
        status: string;
        confirmed: number;
        failures: number;
        waves: { counts: Record<string, number> }[];
      };
      check(view.status === 'completed', `the rollout is completed (it is ${view.status})`);
      check(view.confirmed === FLEET - 1 && view.failures === 1, 'two confirmed, one failure');
      const reports = gateway!.ledger.state.rollouts.get(rollout)!.reports;
      return [
        `medgate rollout status ${rollout.slice(0, 16)}…: ${view.status}`,
        ...view.waves.map(
          (w, i) =>
            `wave ${i + 1}: ${Object.entries(w.counts)
              .filter(([, n]) => n > 0)
              .map(([state, n]) => `${n} ${state}`)
              .join(', ')}`,
        ),
        `${reports.size} device reports, each an update.report signed by the device's own key`,
      ];
    });

    await narrator.step('The fleet stops; the gateway stops gracefully.', async () => {
      await feed?.endAsync();
      feed = undefined;
      const summary = (await sim!.stop()) as { totals?: Record<string, number> } | undefined;
      sim = undefined;
      await gateway!.stop();
      gateway = undefined;
      const t = summary?.totals ?? {};
      return [
        `the simulator made ${t.made ?? '?'} readings; ${t.accepted ?? '?'} were accepted and anchored`,
      ];
    });
  } finally {
    feed?.end(true);
    await sim?.stop();
    await gateway?.stop();
  }
}

function until(what: string, done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (done()) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(poll, 50);
    };
    poll();
  });
}
