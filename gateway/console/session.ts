/**
 * The signed-in principal. The key file is read in the page and kept in memory for this page's
 * life only (never stored, never sent): it signs a fresh connect token (DESIGN §3) for every
 * HTTP request (`Authorization: Medgate <token>`; a token serves one request) and for each MQTT
 * connection, and the admin's transactions. Reloading the page forgets it.
 */
import { fromHex, toBase64, toHex } from '../../firmware-ts/protocol/bytes.js';
import {
  type CoseSigner,
  chainAad,
  signCoseSign1,
  signerFromSecretKey,
} from '../../firmware-ts/protocol/cose.js';
import { encodeConnectToken } from '../../firmware-ts/protocol/decode/connect.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { kidOf } from '../../firmware-ts/protocol/kid.js';
import { decodePrivateKeyPem } from '../../firmware-ts/protocol/pem.js';
import { ConsoleErrorCode, MedgateError } from './errors.js';

/** An error answer of the API, with its code (docs/errors.md) and HTTP status. */
export class ApiError extends MedgateError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(code, message);
    this.name = 'ApiError';
  }
}

interface ChainJson {
  readonly chain: string;
  readonly authorities: readonly { readonly pub: string; readonly kid: string }[];
  readonly admins: readonly { readonly id: string; readonly kid: string }[];
  readonly threshold: number;
}

interface ActorJson {
  readonly active: boolean;
  readonly kid: string | null;
  readonly nonce: number | null;
}

export interface MeJson {
  readonly actor: string;
  readonly role: 'admin' | 'clinician';
  readonly id: string;
  readonly chain: string;
  readonly height: number;
  readonly devices?: readonly {
    readonly id: string;
    readonly model: string | null;
    readonly status: string | null;
  }[];
}

/** Largest difference between the page's and the gateway's clocks left uncorrected. */
const CLOCK_TOLERANCE_MS = 5_000;

async function request<T>(
  path: string,
  init: RequestInit = {},
): Promise<{ body: T; date: number | undefined }> {
  const res = await fetch(path, { ...init, cache: 'no-store', credentials: 'omit' });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(
      res.status,
      ConsoleErrorCode.HTTP_BAD_RESPONSE,
      `${path}: HTTP ${res.status}, not JSON`,
    );
  }
  if (!res.ok) {
    const error = (body as { error?: { code?: unknown; message?: unknown } }).error;
    throw new ApiError(
      res.status,
      typeof error?.code === 'string' ? error.code : ConsoleErrorCode.HTTP_BAD_RESPONSE,
      typeof error?.message === 'string' ? error.message : `${path}: HTTP ${res.status}`,
    );
  }
  const date = Date.parse(res.headers.get('date') ?? '');
  return { body: body as T, date: Number.isNaN(date) ? undefined : date };
}

export class Session {
  readonly #signer: CoseSigner;
  readonly #clockOffset: number;
  #me: MeJson | undefined;

  private constructor(
    signer: CoseSigner,
    readonly pub: Uint8Array,
    readonly chain: string,
    readonly authorities: readonly Uint8Array[],
    readonly threshold: number,
    readonly actor: string,
    clockOffset: number,
  ) {
    this.#signer = signer;
    this.#clockOffset = clockOffset;
  }

  /** The principal as the gateway sees it (`GET /v1/console/me`). */
  get me(): MeJson {
    if (this.#me === undefined) throw new Error('session not open');
    return this.#me;
  }
  get role(): 'admin' | 'clinician' {
    return this.me.role;
  }
  get kid(): string {
    return toHex(kidOf(this.pub));
  }
  get signer(): CoseSigner {
    return this.#signer;
  }

  /** The gateway's time as well as the page can tell it. */
  now(): number {
    return Date.now() + this.#clockOffset;
  }

  /**
   * Opens a session with the private key in `pem` (PKCS#8, as `medgate keygen` and openssl write
   * it). Admins are found by the key's kid in `GET /v1/chain`; a clinician names itself
   * (`clinician:dr-lee` or `dr-lee`), and the key must be that clinician's key on the ledger.
   */
  static async open(pem: string, principal: string): Promise<Session> {
    const secret = decodePrivateKeyPem(pem);
    const pub = nobleBackend.publicKey(secret);
    const signer = signerFromSecretKey(secret, nobleBackend);
    secret.fill(0);
    const kid = toHex(kidOf(pub));
    const { body: chain, date } = await request<ChainJson>('/v1/chain');
    const admin = chain.admins.find((a) => a.kid === kid);
    const name = principal.trim();
    const actor =
      admin !== undefined ? `admin:${admin.id}` : name.includes(':') ? name : name && `clinician:${name}`;
    if (actor === '') {
      throw new MedgateError(
        ConsoleErrorCode.KEY_MISMATCH,
        `this key (kid ${kid}) is no admin's; name the clinician it belongs to`,
      );
    }
    const { body: onLedger } = await request<ActorJson>(`/v1/actors/${encodeURIComponent(actor)}`);
    if (onLedger.kid !== kid) {
      throw new MedgateError(
        ConsoleErrorCode.KEY_MISMATCH,
        `this key (kid ${kid}) is not ${actor}'s key on the ledger (${onLedger.kid ?? 'none'})`,
      );
    }
    // Tokens must be within the gateway's skew window: follow its clock if ours is far off.
    const offset = date === undefined ? 0 : date - Date.now();
    const session = new Session(
      signer,
      pub,
      chain.chain,
      chain.authorities.map((a) => fromHex(a.pub, 'authority')),
      chain.threshold,
      actor,
      Math.abs(offset) > CLOCK_TOLERANCE_MS ? offset : 0,
    );
    session.#me = await session.get<MeJson>('/v1/console/me');
    return session;
  }

  /** A fresh connect token: one per HTTP request or MQTT connection (nonces are single-use). */
  token(): Uint8Array {
    return signCoseSign1(
      encodeConnectToken({
        dev: this.actor,
        t: this.now(),
        nonce: crypto.getRandomValues(new Uint8Array(16)),
      }),
      this.#signer,
      chainAad(this.chain),
    );
  }

  /** GET with a fresh token. */
  async get<T>(path: string): Promise<T> {
    return (await request<T>(path, { headers: { authorization: `Medgate ${toBase64(this.token())}` } })).body;
  }

  /** GET without a token (public ledger routes). */
  async getPublic<T>(path: string): Promise<T> {
    return (await request<T>(path)).body;
  }

  /** Submits a signed transaction (`POST /v1/tx`); resolves once a block holds it. */
  async submitTx(bytes: Uint8Array): Promise<{ height: number; index: number; txId: string; type: string }> {
    return (
      await request<{ height: number; index: number; txId: string; type: string }>('/v1/tx', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ tx: toBase64(bytes) }),
      })
    ).body;
  }
}
