/**
 * One MQTT 3.1.1 connection of a device (mqtt.js). mqtt.js' own reconnect would resend the
 * same password, and a connect token's nonce is good for one CONNECT only (DESIGN §3), so
 * automatic reconnection is off: the device opens a new connection with a new token.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/** CONNACK return codes of MQTT 3.1.1 §3.2.2.3, as the gateway uses them (docs/mqtt.md). */
export const CONNACK_REASONS: Readonly<Record<number, string>> = Object.freeze({
  1: 'unacceptable protocol version',
  2: 'identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
});

/** A CONNECT refused with a CONNACK code, or no connection at all (`returnCode` undefined). */
export class ConnectError extends Error {
  override readonly name = 'ConnectError';
  constructor(
    readonly returnCode: number | undefined,
    message: string,
  ) {
    super(message);
  }
}

export interface OpenOptions {
  readonly clientId: string;
  readonly username: string;
  readonly password: Uint8Array;
  readonly connectTimeoutMs: number;
  /** Extra mqtt.js options (TLS). */
  readonly mqtt?: IClientOptions;
}

/** Connects; resolves once CONNACK accepted, rejects with ConnectError otherwise. */
export function openMqtt(url: string, options: OpenOptions): Promise<MqttClient> {
  const client = mqtt.connect(url, {
    protocolVersion: 4,
    clean: true,
    clientId: options.clientId,
    username: options.username,
    password: Buffer.from(options.password),
    reconnectPeriod: 0,
    connectTimeout: options.connectTimeoutMs,
    keepalive: 30,
    ...options.mqtt,
  });
  return new Promise((resolve, reject) => {
    const fail = (err: Error & { code?: unknown }) => {
      client.off('connect', ok);
      client.off('error', fail);
      client.off('close', closed);
      client.end(true);
      const code = typeof err.code === 'number' ? err.code : undefined;
      reject(
        new ConnectError(
          code,
          code === undefined ? err.message : `CONNACK ${code} (${CONNACK_REASONS[code] ?? 'refused'})`,
        ),
      );
    };
    const closed = () => fail(new Error('connection closed before CONNACK'));
    const ok = () => {
      client.off('error', fail);
      client.off('close', closed);
      resolve(client);
    };
    client.once('connect', ok);
    client.once('error', fail);
    client.once('close', closed);
  });
}
