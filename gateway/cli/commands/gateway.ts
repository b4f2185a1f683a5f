/**
 * `medgate gateway` (DESIGN §7): runs the gateway in the foreground. Settings come from flags,
 * `MEDGATE_*` variables and a JSON config file (docs/configuration.md). Once every listener is
 * up it writes exactly one JSON line to stdout, for scripts and supervisors:
 * `{"event":"listening","mqtt":PORT,"mqtts":PORT|null,"ws":PORT|null,"http":PORT|null,"chain":ID,"height":N}`;
 * logs (pino, JSON) go to stderr. SIGTERM or SIGINT stop it gracefully (exit 0); a second
 * signal during the stop exits at once (exit 1).
 */

import { loadConfig } from '../../config.js';
import { CONFIG_FLAG_OPTIONS } from '../../config-schema.js';
import { createLogger } from '../../log.js';
import { startGateway } from '../../server.js';
import { type Command, ExitCode, type OptionSpec, stringOption } from '../command.js';

const SIGNALS = Object.freeze(['SIGTERM', 'SIGINT'] as const);

const options: Readonly<Record<string, OptionSpec>> = Object.freeze({
  config: Object.freeze({
    type: 'string',
    value: 'FILE',
    description: 'JSON config file (default: $MEDGATE_CONFIG); see docs/configuration.md',
  }),
  ...CONFIG_FLAG_OPTIONS,
});

/** Resolves with the first SIGTERM or SIGINT; a later one ends the process at once. */
function firstSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      for (const s of SIGNALS) process.off(s, onSignal);
      for (const s of SIGNALS) process.once(s, () => process.exit(ExitCode.FAILED));
      resolve(signal);
    };
    for (const s of SIGNALS) process.on(s, onSignal);
  });
}

export const gatewayCommand: Command = {
  path: ['gateway'],
  summary: 'run the gateway: MQTT (TCP, TLS, WebSocket) and the HTTP API in front of the ledger',
  options,
  details: [
    'Settings: flags > MEDGATE_* environment > config file > defaults (docs/configuration.md).',
    'When ready, prints one JSON line on stdout:',
    '  {"event":"listening","mqtt":PORT,"mqtts":PORT|null,"ws":PORT|null,"http":PORT|null,"chain":ID,"height":N}',
    'Logs go to stderr. SIGTERM/SIGINT: graceful stop (last block cut, database closed), exit 0.',
  ].join('\n'),
  async run(args, io) {
    const { config: _file, ...flags } = args.values;
    const config = loadConfig({ file: stringOption(args, 'config'), flags });
    const log = createLogger({ level: config.logLevel });
    const signal = firstSignal();
    const gateway = await startGateway(config, { log });
    const { ports } = gateway;
    io.out(
      JSON.stringify({
        event: 'listening',
        mqtt: ports.mqtt,
        mqtts: ports.mqtts,
        ws: ports.ws,
        http: ports.http,
        chain: gateway.chain,
        height: gateway.ledger.tip.header.height,
      }),
    );
    log.info({ signal: await signal }, 'signal received');
    try {
      await gateway.stop();
      return ExitCode.OK;
    } catch {
      return ExitCode.FAILED; // the log has each failed step
    }
  },
};
