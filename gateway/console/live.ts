/**
 * Live data over MQTT on WebSocket (DESIGN §3): the page connects as its principal
 * (client id = username = `clinician:{id}` / `admin:{id}`, password = a fresh connect token),
 * subscribes, and hands every message to the view. mqtt.js's own reconnect would resend the same
 * token, whose nonce the gateway refuses the second time, so the page reconnects itself with a
 * new token, backing off up to 30 s. One MQTT session per principal: a second tab of the same
 * principal takes the session over (MQTT 3.1.1 §3.1.4).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { passwordPlaceholder, patchPassword } from './mqtt-password.js';

export type LiveState = 'connecting' | 'live' | 'offline' | 'refused';

export interface LiveOptions {
  readonly url: string;
  readonly actor: string;
  /** A fresh connect token per connection. */
  readonly token: () => Uint8Array;
  readonly topics: readonly string[];
  readonly onMessage: (topic: string, payload: Uint8Array) => void;
  readonly onState: (state: LiveState, detail?: string) => void;
}

export interface Live {
  stop(): void;
}

const BACKOFF = Object.freeze({ firstMs: 1_000, maxMs: 30_000 });

/** A WebSocket whose first frame carrying `placeholder` goes out with `token` instead. */
function patchedSocket(url: string, protocols: string[], placeholder: string, token: Uint8Array): WebSocket {
  const socket = new WebSocket(url, protocols);
  const send = socket.send.bind(socket);
  let patched = false;
  socket.send = (data) => {
    if (!patched && ArrayBuffer.isView(data)) {
      const frame = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      const out = patchPassword(frame, placeholder, token);
      if (out !== undefined) {
        patched = true;
        send(out);
        return;
      }
    }
    send(data);
  };
  return socket;
}

export function startLive(options: LiveOptions): Live {
  let client: MqttClient | undefined;
  let stopped = false;
  let delay: number = BACKOFF.firstMs;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const connect = (): void => {
    options.onState('connecting');
    const token = options.token();
    const placeholder = passwordPlaceholder(crypto.getRandomValues(new Uint8Array(token.length)));
    const c = mqtt.connect(options.url, {
      protocolVersion: 4,
      clientId: options.actor,
      username: options.actor,
      password: placeholder,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      createWebsocket: (url: string, protocols: string[]) =>
        patchedSocket(url, protocols, placeholder, token),
    });
    client = c;
    c.on('connect', () => {
      delay = BACKOFF.firstMs;
      c.subscribe([...options.topics], { qos: 1 }, (err, granted) => {
        const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
        if (err) options.onState('offline', err.message);
        else options.onState('live', refused.length > 0 ? `refused: ${refused.join(', ')}` : undefined);
      });
    });
    c.on('message', (topic, payload) => options.onMessage(topic, payload));
    c.on('error', (err: Error & { code?: number }) => {
      if (typeof err.code === 'number') options.onState('refused', `CONNACK ${err.code}: ${err.message}`);
    });
    c.on('close', () => {
      if (stopped || client !== c) return;
      c.end(true);
      options.onState('offline', `reconnecting in ${Math.round(delay / 1000)} s`);
      timer = setTimeout(connect, delay);
      delay = Math.min(delay * 2, BACKOFF.maxMs);
    });
  };
  connect();
  return {
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      client?.end(true);
    },
  };
}
