/**
 * The MQTT listeners (issue 4): TCP (`mqttPort`), TLS (`mqttsPort`, certificate and key from
 * config) and WebSocket (`wsPort`, for browsers), all on `config.host`. Port 0 = any free port;
 * `ports` says what each got. WebSocket is served the way aedes documents it: a `ws`
 * WebSocketServer whose connections become streams (`createWebSocketStream`) handed to aedes
 * with the HTTP upgrade request (for the client's address). Frames are bounded like packets.
 *
 * Closing has two steps so that the composition root can order a graceful stop: `stopAccepting`
 * (no new connections; open ones carry on) and `close` (waits for the open ones, which the
 * broker closes, and destroys whatever is left after a grace period).
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer, type IncomingMessage } from 'node:http';
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { TlsFiles } from '../config.js';
import { GatewayErrorCode, MedgateError } from '../errors.js';
import type { Logger } from '../log.js';

export interface ListenerPorts {
  readonly mqtt: number;
  /** null: no TLS listener configured. */
  readonly mqtts: number | null;
  /** null: WebSocket listener off. */
  readonly ws: number | null;
}

export interface ListenerOptions {
  readonly host: string;
  readonly mqttPort: number;
  readonly mqttsPort: number | null;
  readonly wsPort: number | null;
  readonly tls: TlsFiles | null;
  /** Sockets beyond this (per listener) are dropped by the OS layer; the broker answers CONNACK 3 first. */
  readonly maxConnections: number;
  /** Largest WebSocket message (an MQTT packet travels in one). */
  readonly maxPacketBytes: number;
  readonly handle: (conn: Duplex, req?: IncomingMessage) => void;
  readonly log: Logger;
}

export interface Listeners {
  readonly ports: ListenerPorts;
  stopAccepting(): void;
  /** Resolves when every listener closed; sockets still open after `graceMs` are destroyed. */
  close(graceMs: number): Promise<void>;
}

/** Headroom over maxConnections before the OS-level cap drops sockets without a CONNACK. */
const SOCKET_HEADROOM = 64;

interface Tracked {
  readonly name: string;
  readonly server: NetServer | HttpServer;
  readonly sockets: Set<Socket>;
  /** Settles once the server closed and its last connection ended (set by the first close). */
  closed?: Promise<void>;
}

function track(name: string, server: NetServer | HttpServer): Tracked {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return { name, server, sockets };
}

function listen(t: Tracked, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (cause: NodeJS.ErrnoException) => {
      reject(
        new MedgateError(
          GatewayErrorCode.LISTEN_FAILED,
          `${t.name} cannot listen on ${host}:${port}: ${cause.code ?? cause.message}`,
          {
            field: `${t.name}Port`,
            got: port,
            cause,
          },
        ),
      );
    };
    t.server.once('error', onError);
    t.server.listen({ port, host }, () => {
      t.server.off('error', onError);
      resolve((t.server.address() as AddressInfo).port);
    });
  });
}

function readTls(files: TlsFiles): { cert: Buffer; key: Buffer; ca?: Buffer } {
  try {
    const cert = readFileSync(files.certFile);
    const key = readFileSync(files.keyFile);
    return files.caFile === null ? { cert, key } : { cert, key, ca: readFileSync(files.caFile) };
  } catch (cause) {
    throw new MedgateError(
      GatewayErrorCode.TLS_CONFIG,
      `cannot read the TLS files: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
}

/** Stops accepting; the promise settles when the last connection has ended too. */
function closeServer(t: Tracked): Promise<void> {
  t.closed ??= new Promise((resolve) => t.server.close(() => resolve()));
  return t.closed;
}

export async function startListeners(options: ListenerOptions): Promise<Listeners> {
  const { host, handle, log } = options;
  const started: Tracked[] = [];
  let wss: WebSocketServer | undefined;
  const maxConnections = options.maxConnections + SOCKET_HEADROOM;
  const stopAccepting = () => {
    wss?.close();
    for (const t of started) void closeServer(t);
  };
  try {
    const tcp = track(
      'mqtt',
      createNetServer({ noDelay: true }, (socket) => handle(socket)),
    );
    tcp.server.maxConnections = maxConnections;
    started.push(tcp);
    const mqtt = await listen(tcp, options.mqttPort, host);

    let mqtts: number | null = null;
    if (options.mqttsPort !== null && options.tls !== null) {
      let server: NetServer;
      try {
        server = createTlsServer({ ...readTls(options.tls) }, (socket) => handle(socket));
      } catch (cause) {
        if (cause instanceof MedgateError) throw cause;
        throw new MedgateError(
          GatewayErrorCode.TLS_CONFIG,
          `the TLS certificate or key is not usable: ${(cause as Error).message}`,
          {
            cause,
          },
        );
      }
      server.maxConnections = maxConnections;
      // A failed handshake (plain MQTT on the TLS port, a bad client) is the client's problem.
      server.on('tlsClientError', (err) => log.debug({ err }, 'TLS handshake failed'));
      const tls = track('mqtts', server);
      started.push(tls);
      mqtts = await listen(tls, options.mqttsPort, host);
    }

    let ws: number | null = null;
    if (options.wsPort !== null) {
      const http = createHttpServer((_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain', connection: 'close', upgrade: 'websocket' });
        res.end('MQTT over WebSocket: upgrade required\n');
      });
      http.maxConnections = maxConnections;
      const tracked = track('ws', http);
      started.push(tracked);
      wss = new WebSocketServer({ server: http, maxPayload: options.maxPacketBytes });
      wss.on('connection', (socket, req) => {
        const stream = createWebSocketStream(socket);
        handle(stream, req);
      });
      wss.on('error', (err) => log.debug({ err }, 'WebSocket server error'));
      ws = await listen(tracked, options.wsPort, host);
    }

    return {
      ports: { mqtt, mqtts, ws },
      stopAccepting,
      close: async (graceMs) => {
        stopAccepting();
        const timer = setTimeout(() => {
          for (const t of started) for (const socket of t.sockets) socket.destroy();
        }, graceMs);
        timer.unref();
        await Promise.all(started.map(closeServer));
        clearTimeout(timer);
      },
    };
  } catch (err) {
    stopAccepting();
    for (const t of started) for (const socket of t.sockets) socket.destroy();
    await Promise.all(started.map(closeServer));
    throw err;
  }
}
