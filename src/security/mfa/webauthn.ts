// WebAuthn (passkeys and security keys) with an explicit policy, over @simplewebauthn/server.
// Storage-agnostic: the caller keeps the challenge between the two calls of a ceremony (and
// enforces `challengeTtlMs` and single use) and stores the credentials this module returns.
//
// We check the client data and the authenticator data ourselves before handing the response to the
// library (which checks them again, then the attestation and the signature) so that every refusal
// carries a stable `detail.reason` and no library message (which quotes the expected challenge)
// reaches the client or the logs.
//
// User handles: WebAuthn stores `user.id` on the authenticator and returns it on passkey login, so
// it must not reveal the account. The caller makes one random handle per user with
// `newUserHandle()`, stores it, and passes it to `registrationOptions`; on login it maps the
// returned `userHandle` back to the user and checks it owns the credential.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { decodeAttestationObject, isoBase64URL, parseAuthenticatorData } from '@simplewebauthn/server/helpers';
import { isIP } from 'node:net';
import { AttestryError, invalid, tooLarge, unauthenticated } from '../../core/errors.ts';

export interface WebAuthnPolicy {
  rpName: string;
  /** The host of the public URL; browsers refuse IP addresses here. */
  rpId: string;
  /** Exact origins the browser may report, e.g. `['https://registry.example.org']`. */
  origins: string[];
  userVerification: 'required' | 'preferred';
  timeoutMs: number;
  challengeTtlMs: number;
}

export interface StoredCredential {
  /** base64url credential id */
  id: string;
  /** base64url COSE public key */
  publicKey: string;
  counter: number;
  transports: string[];
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
  backedUp: boolean;
  deviceType: string;
}

export type WebAuthnRefusalReason =
  | 'malformed'
  | 'type'
  | 'challenge'
  | 'origin'
  | 'cross_origin'
  | 'rp_id'
  | 'user_presence'
  | 'user_verification'
  | 'credential_id'
  | 'verification';

const FIVE_MINUTES = 5 * 60 * 1000;
// EdDSA, ES256, RS256: what passkey providers and security keys use. Pinned rather than the
// library default so a library upgrade cannot widen what we accept.
const ALGORITHMS = [-8, -7, -257];
/** A response is a few hundred bytes; attestation certificate chains stay far below this. */
export const MAX_RESPONSE_BYTES = 64 * 1024;
// WebAuthn caps credential ids at 1023 bytes.
const MAX_ID_CHARS = 1366;
const MAX_NAME_CHARS = 64;
const TRANSPORTS = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * The policy for a registry served at `publicUrl`: RP ID = its host, origin = its origin, user
 * verification required (a passkey replaces the password, so it must be two factors by itself).
 * Throws `WEBAUTHN_PUBLIC_URL_UNSUITABLE` when no browser would run WebAuthn for that URL: an IP
 * address host, or plain http anywhere but localhost.
 */
export function webAuthnPolicyFor(publicUrl: string, rpName = 'Attestry'): WebAuthnPolicy {
  let url: URL;
  try {
    url = new URL(publicUrl);
  } catch {
    throw invalid('WEBAUTHN_PUBLIC_URL_UNSUITABLE', 'The public URL is not a URL.');
  }
  const host = url.hostname;
  const local = host === 'localhost' || host.endsWith('.localhost');
  if (isIP(host.replace(/^\[|\]$/g, '')) !== 0) {
    throw invalid('WEBAUTHN_PUBLIC_URL_UNSUITABLE', 'Browsers refuse WebAuthn on an IP address; use a host name (http://localhost:PORT for local use).');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
    throw invalid('WEBAUTHN_PUBLIC_URL_UNSUITABLE', 'Browsers allow WebAuthn only over https (or http on localhost).');
  }
  return { rpName, rpId: host, origins: [url.origin], userVerification: 'required', timeoutMs: FIVE_MINUTES, challengeTtlMs: FIVE_MINUTES };
}

/** A fresh opaque user handle (16 random bytes, base64url) for the caller to store once per user. */
export function newUserHandle(): string {
  return randomBytes(16).toString('base64url');
}

export async function registrationOptions(
  policy: WebAuthnPolicy,
  user: { id: number; name: string; handle: string },
  existing: readonly StoredCredential[],
): Promise<{ options: unknown; challenge: string }> {
  const handle = Buffer.from(user.handle, 'base64url');
  if (!BASE64URL.test(user.handle) || handle.length < 16 || handle.length > 64) {
    throw invalid('WEBAUTHN_BAD_USER_HANDLE', 'The user handle must be 16 to 64 random bytes in base64url.');
  }
  const options = await generateRegistrationOptions({
    rpName: policy.rpName,
    rpID: policy.rpId,
    userName: user.name,
    userDisplayName: user.name,
    userID: new Uint8Array(handle),
    timeout: policy.timeoutMs,
    attestationType: 'none',
    excludeCredentials: existing.map((c) => ({ id: c.id, transports: c.transports })),
    authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: policy.userVerification },
    supportedAlgorithmIDs: ALGORITHMS,
  });
  return { options, challenge: options.challenge };
}

export async function authenticationOptions(
  policy: WebAuthnPolicy,
  allow: readonly StoredCredential[] | null,
): Promise<{ options: unknown; challenge: string }> {
  const options = await generateAuthenticationOptions({
    rpID: policy.rpId,
    timeout: policy.timeoutMs,
    userVerification: policy.userVerification,
    ...(allow === null ? {} : { allowCredentials: allow.map((c) => ({ id: c.id, transports: c.transports })) }),
  });
  return { options, challenge: options.challenge };
}

/** The credential id a response claims, to find the credential (and its user) before verifying. */
export function credentialIdOf(response: unknown): string | null {
  let value: unknown;
  try {
    value = parseBounded(response, () => new Error());
  } catch {
    return null;
  }
  const id = isRecord(value) ? value.id : undefined;
  return isId(id) ? id : null;
}

export async function verifyRegistration(
  policy: WebAuthnPolicy,
  response: unknown,
  expectedChallenge: string,
  name: string,
  now: number,
): Promise<StoredCredential> {
  const fail = (reason: WebAuthnRefusalReason): AttestryError =>
    invalid('WEBAUTHN_REGISTRATION_FAILED', 'The passkey could not be registered.', { reason });
  const label = name.trim();
  // eslint-disable-next-line no-control-regex
  if (label.length === 0 || label.length > MAX_NAME_CHARS || /[\u0000-\u001f\u007f]/.test(label)) {
    throw invalid('WEBAUTHN_BAD_CREDENTIAL_NAME', `A passkey name is 1 to ${MAX_NAME_CHARS} printable characters.`);
  }
  const json = registrationSchema(parseBounded(response, () => fail('malformed')), fail);

  let authData: ReturnType<typeof parseAuthenticatorData>;
  try {
    const attestation = decodeAttestationObject(isoBase64URL.toBuffer(json.response.attestationObject));
    authData = parseAuthenticatorData(attestation.get('authData'));
  } catch {
    throw fail('malformed');
  }
  checkCeremony(policy, json.response.clientDataJSON, 'webauthn.create', expectedChallenge, authData, fail);

  let result: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
  try {
    result = await verifyRegistrationResponse({
      response: json,
      expectedChallenge,
      expectedOrigin: policy.origins,
      expectedRPID: policy.rpId,
      requireUserPresence: true,
      requireUserVerification: policy.userVerification === 'required',
      supportedAlgorithmIDs: ALGORITHMS,
    });
  } catch {
    throw fail('verification');
  }
  if (!result.verified) throw fail('verification');
  const info = result.registrationInfo;
  // The library takes the id from the authenticator data; the one the browser reports must agree,
  // or a later lookup by `credentialIdOf` would find a different credential.
  if (info.credential.id !== json.id) throw fail('credential_id');
  return {
    id: info.credential.id,
    publicKey: isoBase64URL.fromBuffer(info.credential.publicKey),
    counter: info.credential.counter,
    transports: json.response.transports ?? [],
    name: label,
    createdAt: now,
    lastUsedAt: null,
    backedUp: info.credentialBackedUp,
    deviceType: info.credentialDeviceType,
  };
}

/**
 * Verifies an assertion for one of `credentials` (found by the response's id); returns the
 * credential with its new counter, backup state and `lastUsedAt = now`, plus the user handle the
 * authenticator returned (base64url, or null). For passkey login the caller must check that the
 * handle, when present, is the handle of the credential's owner.
 *
 * Refuses a counter that did not increase (a cloned authenticator), unless both are 0 (passkey
 * providers that do not count), with WEBAUTHN_COUNTER_REGRESSED — checked only after the signature,
 * so nobody without the key can trigger that alarm.
 */
export async function verifyAuthentication(
  policy: WebAuthnPolicy,
  response: unknown,
  expectedChallenge: string,
  credentials: readonly StoredCredential[],
  now: number,
): Promise<{ credential: StoredCredential; userHandle: string | null }> {
  const fail = (reason: WebAuthnRefusalReason): AttestryError =>
    new AttestryError('unauthenticated', 'WEBAUTHN_AUTHENTICATION_FAILED', 'The passkey could not be verified.', { reason });
  const json = authenticationSchema(parseBounded(response, () => fail('malformed')), fail);
  const stored = credentials.find((c) => c.id === json.id);
  if (!stored) throw unauthenticated('WEBAUTHN_UNKNOWN_CREDENTIAL', 'This passkey is not registered here.');

  let authData: ReturnType<typeof parseAuthenticatorData>;
  try {
    authData = parseAuthenticatorData(isoBase64URL.toBuffer(json.response.authenticatorData));
  } catch {
    throw fail('malformed');
  }
  checkCeremony(policy, json.response.clientDataJSON, 'webauthn.get', expectedChallenge, authData, fail);

  let result: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
  try {
    result = await verifyAuthenticationResponse({
      response: json,
      expectedChallenge,
      expectedOrigin: policy.origins,
      expectedRPID: policy.rpId,
      // Counter 0 here: the library would refuse a regression before we know the signature is good.
      credential: { id: stored.id, publicKey: isoBase64URL.toBuffer(stored.publicKey), counter: 0, transports: stored.transports },
      requireUserVerification: policy.userVerification === 'required',
    });
  } catch {
    throw fail('verification');
  }
  if (!result.verified) throw fail('verification');
  const info = result.authenticationInfo;
  if ((info.newCounter > 0 || stored.counter > 0) && info.newCounter <= stored.counter) {
    throw unauthenticated('WEBAUTHN_COUNTER_REGRESSED', 'This passkey reported a use count that went backwards; it may have been copied.');
  }
  return {
    credential: { ...stored, counter: info.newCounter, lastUsedAt: now, backedUp: info.credentialBackedUp, deviceType: info.credentialDeviceType },
    userHandle: json.response.userHandle ? json.response.userHandle : null,
  };
}

// --- the checks shared by both ceremonies -------------------------------------------------------

function checkCeremony(
  policy: WebAuthnPolicy,
  clientDataB64: string,
  type: 'webauthn.create' | 'webauthn.get',
  expectedChallenge: string,
  authData: ReturnType<typeof parseAuthenticatorData>,
  fail: (reason: WebAuthnRefusalReason) => AttestryError,
): void {
  let clientData: unknown;
  try {
    clientData = JSON.parse(Buffer.from(clientDataB64, 'base64url').toString('utf8'));
  } catch {
    throw fail('malformed');
  }
  if (!isRecord(clientData) || typeof clientData.challenge !== 'string' || typeof clientData.origin !== 'string') throw fail('malformed');
  if (clientData.type !== type) throw fail('type');
  if (!sameSecret(clientData.challenge, expectedChallenge)) throw fail('challenge');
  // A page of another site framing ours could otherwise run the ceremony.
  if (clientData.crossOrigin === true || clientData.topOrigin !== undefined) throw fail('cross_origin');
  if (!policy.origins.includes(clientData.origin)) throw fail('origin');
  const rpIdHash = createHash('sha256').update(policy.rpId).digest();
  if (authData.rpIdHash.length !== 32 || !timingSafeEqual(authData.rpIdHash, rpIdHash)) throw fail('rp_id');
  if (!authData.flags.up) throw fail('user_presence');
  if (policy.userVerification === 'required' && !authData.flags.uv) throw fail('user_verification');
}

function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

// --- schema ------------------------------------------------------------------------------------

/** Accepts the parsed JSON or its text; refuses anything bigger than MAX_RESPONSE_BYTES. */
function parseBounded(response: unknown, malformed: () => Error): unknown {
  let text: string | undefined;
  if (typeof response === 'string') {
    text = response;
  } else {
    try {
      text = JSON.stringify(response);
    } catch {
      throw malformed();
    }
  }
  if (text === undefined) throw malformed();
  if (Buffer.byteLength(text) > MAX_RESPONSE_BYTES) {
    throw tooLarge('WEBAUTHN_RESPONSE_TOO_LARGE', `A WebAuthn response is at most ${MAX_RESPONSE_BYTES} bytes.`);
  }
  if (typeof response !== 'string') return response;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw malformed();
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isId(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_ID_CHARS && BASE64URL.test(v);
}

function isB64(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && BASE64URL.test(v);
}

/** The fields every PublicKeyCredential JSON has; returns its `response` object. */
function credentialEnvelope(v: unknown, fail: (r: WebAuthnRefusalReason) => AttestryError): { id: string; response: Record<string, unknown>; extensions: Record<string, unknown>; attachment: 'platform' | 'cross-platform' | undefined } {
  if (!isRecord(v) || !isId(v.id) || v.rawId !== v.id || v.type !== 'public-key' || !isRecord(v.response)) throw fail('malformed');
  const extensions = v.clientExtensionResults ?? {};
  if (!isRecord(extensions)) throw fail('malformed');
  const attachment = v.authenticatorAttachment ?? undefined;
  if (attachment !== undefined && attachment !== 'platform' && attachment !== 'cross-platform') throw fail('malformed');
  return { id: v.id, response: v.response, extensions, attachment };
}

function registrationSchema(v: unknown, fail: (r: WebAuthnRefusalReason) => AttestryError): RegistrationResponseJSON {
  const { id, response: r, extensions, attachment } = credentialEnvelope(v, fail);
  if (!isB64(r.clientDataJSON) || !isB64(r.attestationObject)) throw fail('malformed');
  const transports = r.transports ?? [];
  if (!Array.isArray(transports) || transports.length > TRANSPORTS.size || !transports.every((t) => typeof t === 'string' && TRANSPORTS.has(t))) {
    throw fail('malformed');
  }
  return {
    id,
    rawId: id,
    type: 'public-key',
    clientExtensionResults: extensions,
    ...(attachment ? { authenticatorAttachment: attachment } : {}),
    response: { clientDataJSON: r.clientDataJSON, attestationObject: r.attestationObject, transports: [...new Set(transports as string[])] as RegistrationResponseJSON['response']['transports'] },
  };
}

function authenticationSchema(v: unknown, fail: (r: WebAuthnRefusalReason) => AttestryError): AuthenticationResponseJSON {
  const { id, response: r, extensions, attachment } = credentialEnvelope(v, fail);
  if (!isB64(r.clientDataJSON) || !isB64(r.authenticatorData) || !isB64(r.signature)) throw fail('malformed');
  const userHandle = r.userHandle ?? null;
  if (userHandle !== null && !(isB64(userHandle) && userHandle.length <= 86)) throw fail('malformed');
  return {
    id,
    rawId: id,
    type: 'public-key',
    clientExtensionResults: extensions,
    ...(attachment ? { authenticatorAttachment: attachment } : {}),
    response: { clientDataJSON: r.clientDataJSON, authenticatorData: r.authenticatorData, signature: r.signature, ...(userHandle ? { userHandle } : {}) },
  };
}
