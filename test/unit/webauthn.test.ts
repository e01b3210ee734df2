// WebAuthn ceremonies end to end without a browser: a software ES256 authenticator below builds
// "none" attestations and assertions byte by byte (authenticator data, COSE key, a little CBOR),
// so every refusal is the success case with exactly one thing changed.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign, randomBytes, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import { isAttestryError, type ErrorKind } from '../../src/core/errors.ts';
import {
  authenticationOptions,
  credentialIdOf,
  MAX_RESPONSE_BYTES,
  newUserHandle,
  registrationOptions,
  verifyAuthentication,
  verifyRegistration,
  webAuthnPolicyFor,
  type StoredCredential,
  type WebAuthnPolicy,
} from '../../src/security/mfa/webauthn.ts';

const POLICY = webAuthnPolicyFor('http://localhost:4873');
const ORIGIN = 'http://localhost:4873';
const NOW = 1_760_000_000_000;

// --- a minimal CBOR encoder: unsigned/negative ints, byte and text strings, maps ----------------
type Cbor = number | string | Uint8Array | Map<Cbor, Cbor>;
function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  const b = Buffer.alloc(3);
  b[0] = (major << 5) | 25;
  b.writeUInt16BE(n, 1);
  return b;
}
function cbor(v: Cbor): Buffer {
  if (typeof v === 'number') return v >= 0 ? head(0, v) : head(1, -1 - v);
  if (typeof v === 'string') return Buffer.concat([head(3, Buffer.byteLength(v)), Buffer.from(v)]);
  if (v instanceof Uint8Array) return Buffer.concat([head(2, v.length), v]);
  return Buffer.concat([head(5, v.size), ...[...v].flatMap(([k, x]) => [cbor(k), cbor(x)])]);
}

// --- the software authenticator ----------------------------------------------------------------
interface Authenticator { credentialId: Buffer; privateKey: KeyObject; cose: Buffer; counter: number }

function newAuthenticator(): Authenticator {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const cose = cbor(new Map<Cbor, Cbor>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x as string, 'base64url')], [-3, Buffer.from(jwk.y as string, 'base64url')]]));
  return { credentialId: randomBytes(32), privateKey, cose, counter: 0 };
}

interface Tweaks { origin?: string; rpId?: string; challenge?: string; type?: string; flags?: number; counter?: number; crossOrigin?: boolean; userHandle?: string | null }
const UP = 0x01;
const UV = 0x04;
const AT = 0x40;

function clientData(type: string, challenge: string, t: Tweaks): Buffer {
  return Buffer.from(JSON.stringify({ type: t.type ?? type, challenge: t.challenge ?? challenge, origin: t.origin ?? ORIGIN, crossOrigin: t.crossOrigin ?? false }));
}

function authData(a: Authenticator, t: Tweaks, attested: boolean, defaultFlags: number): Buffer {
  const counter = Buffer.alloc(4);
  counter.writeUInt32BE(t.counter ?? a.counter);
  const parts: Buffer[] = [createHash('sha256').update(t.rpId ?? POLICY.rpId).digest(), Buffer.from([t.flags ?? defaultFlags]), counter];
  if (attested) {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(a.credentialId.length);
    parts.push(Buffer.alloc(16), len, a.credentialId, a.cose);
  }
  return Buffer.concat(parts);
}

function attest(a: Authenticator, challenge: string, t: Tweaks = {}): Record<string, unknown> {
  const id = a.credentialId.toString('base64url');
  const attestationObject = cbor(new Map<Cbor, Cbor>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData(a, t, true, UP | UV | AT)]]));
  return {
    id, rawId: id, type: 'public-key', clientExtensionResults: {}, authenticatorAttachment: 'platform',
    response: { clientDataJSON: clientData('webauthn.create', challenge, t).toString('base64url'), attestationObject: attestationObject.toString('base64url'), transports: ['internal'] },
  };
}

function assertion(a: Authenticator, challenge: string, userHandle: string, t: Tweaks = {}): Record<string, unknown> {
  if (t.counter === undefined) a.counter += 1;
  const data = authData(a, t, false, UP | UV);
  const cd = clientData('webauthn.get', challenge, t);
  const signature = sign('sha256', Buffer.concat([data, createHash('sha256').update(cd).digest()]), a.privateKey);
  const id = a.credentialId.toString('base64url');
  const handle = t.userHandle === undefined ? userHandle : t.userHandle;
  return {
    id, rawId: id, type: 'public-key', clientExtensionResults: {},
    response: { clientDataJSON: cd.toString('base64url'), authenticatorData: data.toString('base64url'), signature: signature.toString('base64url'), userHandle: handle },
  };
}

async function refused(p: Promise<unknown>, code: string, kind: ErrorKind, reason?: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isAttestryError(e), `expected an AttestryError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.kind, kind);
    if (reason !== undefined) assert.equal(e.detail?.reason, reason);
    return true;
  });
}

const USER = { id: 7, name: 'alice', handle: newUserHandle() };

async function registered(policy: WebAuthnPolicy = POLICY): Promise<{ a: Authenticator; cred: StoredCredential }> {
  const a = newAuthenticator();
  const { challenge } = await registrationOptions(policy, USER, []);
  const cred = await verifyRegistration(policy, attest(a, challenge), challenge, 'Laptop', NOW);
  return { a, cred };
}

describe('webAuthnPolicyFor', () => {
  it('derives RP ID and origin from the public URL and requires user verification', () => {
    const p = webAuthnPolicyFor('https://registry.example.org/some/path');
    assert.equal(p.rpId, 'registry.example.org');
    assert.deepEqual(p.origins, ['https://registry.example.org']);
    assert.equal(p.userVerification, 'required');
    assert.equal(p.timeoutMs, 5 * 60 * 1000);
    assert.equal(p.challengeTtlMs, 5 * 60 * 1000);
    assert.deepEqual(webAuthnPolicyFor('http://localhost:4873').origins, ['http://localhost:4873']);
  });

  it('refuses URLs no browser would run WebAuthn on', () => {
    for (const url of ['http://127.0.0.1:4873', 'https://[::1]:4873', 'http://registry.example.org', 'ftp://localhost', 'not a url']) {
      assert.throws(() => webAuthnPolicyFor(url), (e: unknown) => isAttestryError(e) && e.code === 'WEBAUTHN_PUBLIC_URL_UNSUITABLE' && e.kind === 'invalid', url);
    }
  });
});

describe('registration options', () => {
  it('asks for a discoverable, user-verified credential under an opaque handle, excluding existing ones', async () => {
    const { cred } = await registered();
    const { options, challenge } = await registrationOptions(POLICY, USER, [cred]);
    const o = options as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(o.challenge, challenge);
    assert.ok(Buffer.from(challenge, 'base64url').length >= 32);
    assert.deepEqual(o.rp, { name: 'Attestry', id: 'localhost' });
    assert.deepEqual(o.user, { id: USER.handle, name: 'alice', displayName: 'alice' }, 'the opaque handle, never the numeric id');
    assert.equal(o.authenticatorSelection.residentKey, 'required');
    assert.equal(o.authenticatorSelection.userVerification, 'required');
    assert.equal(o.attestation, 'none');
    assert.deepEqual(o.pubKeyCredParams.map((p: { alg: number }) => p.alg), [-8, -7, -257]);
    assert.deepEqual(o.excludeCredentials, [{ id: cred.id, type: 'public-key', transports: ['internal'] }]);
    assert.equal(o.timeout, POLICY.timeoutMs);
    assert.notEqual((await registrationOptions(POLICY, USER, [])).challenge, challenge);
  });

  it('refuses a user handle that is not 16-64 bytes of base64url', async () => {
    for (const handle of ['', 'short', 'attestry-user-7', 'a'.repeat(100), '!!!!!!!!!!!!!!!!!!!!!!!!']) {
      await refused(registrationOptions(POLICY, { ...USER, handle }, []), 'WEBAUTHN_BAD_USER_HANDLE', 'invalid');
    }
  });

  it('makes distinct 16-byte handles', () => {
    const a = newUserHandle();
    assert.equal(Buffer.from(a, 'base64url').length, 16);
    assert.notEqual(a, newUserHandle());
  });
});

describe('registration', () => {
  it('stores a credential from a valid none attestation', async () => {
    const a = newAuthenticator();
    const { challenge } = await registrationOptions(POLICY, USER, []);
    const cred = await verifyRegistration(POLICY, attest(a, challenge), challenge, '  Laptop  ', NOW);
    assert.equal(cred.id, a.credentialId.toString('base64url'));
    assert.deepEqual(Buffer.from(cred.publicKey, 'base64url'), a.cose);
    assert.equal(cred.counter, 0);
    assert.deepEqual(cred.transports, ['internal']);
    assert.equal(cred.name, 'Laptop');
    assert.equal(cred.createdAt, NOW);
    assert.equal(cred.lastUsedAt, null);
    assert.equal(cred.backedUp, false);
    assert.equal(cred.deviceType, 'singleDevice');
  });

  it('accepts the response as JSON text too', async () => {
    const a = newAuthenticator();
    const { challenge } = await registrationOptions(POLICY, USER, []);
    const cred = await verifyRegistration(POLICY, JSON.stringify(attest(a, challenge)), challenge, 'Key', NOW);
    assert.equal(cred.id, a.credentialId.toString('base64url'));
  });

  const cases: [string, Tweaks, string][] = [
    ['wrong origin', { origin: 'http://localhost:4874' }, 'origin'],
    ['look-alike origin', { origin: 'http://evil.localhost:4873' }, 'origin'],
    ['wrong RP ID', { rpId: 'evil.example' }, 'rp_id'],
    ['wrong challenge', { challenge: randomBytes(32).toString('base64url') }, 'challenge'],
    ['assertion type', { type: 'webauthn.get' }, 'type'],
    ['no user verification', { flags: UP | AT }, 'user_verification'],
    ['no user presence', { flags: UV | AT }, 'user_presence'],
    ['cross-origin frame', { crossOrigin: true }, 'cross_origin'],
  ];
  for (const [label, tweak, reason] of cases) {
    it(`refuses ${label}`, async () => {
      const { challenge } = await registrationOptions(POLICY, USER, []);
      await refused(verifyRegistration(POLICY, attest(newAuthenticator(), challenge, tweak), challenge, 'Key', NOW), 'WEBAUTHN_REGISTRATION_FAILED', 'invalid', reason);
    });
  }

  it('accepts missing user verification only when the policy merely prefers it', async () => {
    const policy: WebAuthnPolicy = { ...POLICY, userVerification: 'preferred' };
    const { challenge } = await registrationOptions(policy, USER, []);
    const cred = await verifyRegistration(policy, attest(newAuthenticator(), challenge, { flags: UP | AT }), challenge, 'Key', NOW);
    assert.equal(cred.counter, 0);
  });

  it('refuses a response whose id is not the credential in the authenticator data', async () => {
    const { challenge } = await registrationOptions(POLICY, USER, []);
    const r = attest(newAuthenticator(), challenge);
    const other = randomBytes(32).toString('base64url');
    await refused(verifyRegistration(POLICY, { ...r, id: other, rawId: other }, challenge, 'Key', NOW), 'WEBAUTHN_REGISTRATION_FAILED', 'invalid', 'credential_id');
  });

  it('refuses malformed responses', async () => {
    const { challenge } = await registrationOptions(POLICY, USER, []);
    const good = attest(newAuthenticator(), challenge);
    const inner = good.response as Record<string, unknown>;
    const bad: unknown[] = [
      null, 42, [], '{not json', 'null', {},
      { ...good, id: undefined },
      { ...good, rawId: 'different' },
      { ...good, id: 'has+plus', rawId: 'has+plus' },
      { ...good, type: 'password' },
      { ...good, response: 'x' },
      { ...good, response: { ...inner, clientDataJSON: 5 } },
      { ...good, response: { ...inner, attestationObject: '' } },
      { ...good, response: { ...inner, attestationObject: 'AAAA' } },
      { ...good, response: { ...inner, clientDataJSON: Buffer.from('not json').toString('base64url') } },
      { ...good, response: { ...inner, transports: ['carrier-pigeon'] } },
      { ...good, response: { ...inner, transports: 'usb' } },
      { ...good, clientExtensionResults: [] },
      { ...good, authenticatorAttachment: 'elsewhere' },
    ];
    for (const r of bad) {
      await refused(verifyRegistration(POLICY, r, challenge, 'Key', NOW), 'WEBAUTHN_REGISTRATION_FAILED', 'invalid', 'malformed');
    }
  });

  it('refuses an oversized response before parsing it', async () => {
    const { challenge } = await registrationOptions(POLICY, USER, []);
    const big = { ...attest(newAuthenticator(), challenge), clientExtensionResults: { pad: 'x'.repeat(MAX_RESPONSE_BYTES) } };
    await refused(verifyRegistration(POLICY, big, challenge, 'Key', NOW), 'WEBAUTHN_RESPONSE_TOO_LARGE', 'too_large');
    await refused(verifyRegistration(POLICY, JSON.stringify(big), challenge, 'Key', NOW), 'WEBAUTHN_RESPONSE_TOO_LARGE', 'too_large');
  });

  it('refuses a bad credential name', async () => {
    const { challenge } = await registrationOptions(POLICY, USER, []);
    for (const name of ['', '   ', 'x'.repeat(65), 'bad\nname', 'tab\tname']) {
      await refused(verifyRegistration(POLICY, attest(newAuthenticator(), challenge), challenge, name, NOW), 'WEBAUTHN_BAD_CREDENTIAL_NAME', 'invalid');
    }
  });
});

describe('authentication', () => {
  it('verifies an assertion, advances the counter and returns the user handle', async () => {
    const { a, cred } = await registered();
    const { options, challenge } = await authenticationOptions(POLICY, [cred]);
    const o = options as { allowCredentials: unknown; userVerification: string; rpId: string };
    assert.deepEqual(o.allowCredentials, [{ id: cred.id, type: 'public-key', transports: ['internal'] }]);
    assert.equal(o.userVerification, 'required');
    assert.equal(o.rpId, 'localhost');
    const r = assertion(a, challenge, USER.handle);
    assert.equal(credentialIdOf(r), cred.id);
    const other = (await registered()).cred;
    const { credential, userHandle } = await verifyAuthentication(POLICY, r, challenge, [other, cred], NOW + 1000);
    assert.equal(credential.id, cred.id);
    assert.equal(credential.counter, 1);
    assert.equal(credential.lastUsedAt, NOW + 1000);
    assert.equal(credential.name, 'Laptop');
    assert.equal(userHandle, USER.handle);

    const second = await authenticationOptions(POLICY, null);
    assert.equal((second.options as { allowCredentials?: unknown }).allowCredentials, undefined, 'discoverable: no allow list');
    const next = await verifyAuthentication(POLICY, assertion(a, second.challenge, USER.handle, { userHandle: null }), second.challenge, [credential], NOW + 2000);
    assert.equal(next.credential.counter, 2);
    assert.equal(next.userHandle, null);
  });

  it('accepts counters that stay at 0 (authenticators that do not count)', async () => {
    const { a, cred } = await registered();
    for (let i = 0; i < 2; i++) {
      const { challenge } = await authenticationOptions(POLICY, null);
      const { credential } = await verifyAuthentication(POLICY, assertion(a, challenge, USER.handle, { counter: 0 }), challenge, [cred], NOW);
      assert.equal(credential.counter, 0);
    }
  });

  it('refuses a counter that went backwards or stood still (a cloned authenticator)', async () => {
    const { a, cred } = await registered();
    const stored = { ...cred, counter: 5 };
    for (const counter of [4, 5, 0]) {
      const { challenge } = await authenticationOptions(POLICY, [stored]);
      await refused(verifyAuthentication(POLICY, assertion(a, challenge, USER.handle, { counter }), challenge, [stored], NOW), 'WEBAUTHN_COUNTER_REGRESSED', 'unauthenticated');
    }
    const { challenge } = await authenticationOptions(POLICY, [stored]);
    const ok = await verifyAuthentication(POLICY, assertion(a, challenge, USER.handle, { counter: 6 }), challenge, [stored], NOW);
    assert.equal(ok.credential.counter, 6);
  });

  it('does not raise the counter alarm for an assertion with a bad signature', async () => {
    const { a, cred } = await registered();
    const stored = { ...cred, counter: 5 };
    const { challenge } = await authenticationOptions(POLICY, [stored]);
    const forged = assertion({ ...a, privateKey: newAuthenticator().privateKey }, challenge, USER.handle, { counter: 1 });
    await refused(verifyAuthentication(POLICY, forged, challenge, [stored], NOW), 'WEBAUTHN_AUTHENTICATION_FAILED', 'unauthenticated', 'verification');
  });

  it('refuses an unknown credential', async () => {
    const { cred } = await registered();
    const stranger = newAuthenticator();
    const { challenge } = await authenticationOptions(POLICY, null);
    await refused(verifyAuthentication(POLICY, assertion(stranger, challenge, USER.handle), challenge, [cred], NOW), 'WEBAUTHN_UNKNOWN_CREDENTIAL', 'unauthenticated');
    await refused(verifyAuthentication(POLICY, assertion(stranger, challenge, USER.handle), challenge, [], NOW), 'WEBAUTHN_UNKNOWN_CREDENTIAL', 'unauthenticated');
  });

  it('refuses a signature by another key for a known credential id', async () => {
    const { a, cred } = await registered();
    const { challenge } = await authenticationOptions(POLICY, [cred]);
    const forged = assertion({ ...a, privateKey: newAuthenticator().privateKey }, challenge, USER.handle);
    await refused(verifyAuthentication(POLICY, forged, challenge, [cred], NOW), 'WEBAUTHN_AUTHENTICATION_FAILED', 'unauthenticated', 'verification');
  });

  const cases: [string, Tweaks, string][] = [
    ['wrong origin', { origin: 'https://localhost:4873' }, 'origin'],
    ['wrong RP ID', { rpId: 'example.org' }, 'rp_id'],
    ['wrong challenge', { challenge: randomBytes(32).toString('base64url') }, 'challenge'],
    ['registration type', { type: 'webauthn.create' }, 'type'],
    ['no user verification', { flags: UP }, 'user_verification'],
    ['no user presence', { flags: UV }, 'user_presence'],
    ['cross-origin frame', { crossOrigin: true }, 'cross_origin'],
  ];
  for (const [label, tweak, reason] of cases) {
    it(`refuses ${label}`, async () => {
      const { a, cred } = await registered();
      const { challenge } = await authenticationOptions(POLICY, [cred]);
      await refused(verifyAuthentication(POLICY, assertion(a, challenge, USER.handle, tweak), challenge, [cred], NOW), 'WEBAUTHN_AUTHENTICATION_FAILED', 'unauthenticated', reason);
    });
  }

  it('refuses a replayed assertion under a new challenge', async () => {
    const { a, cred } = await registered();
    const first = await authenticationOptions(POLICY, [cred]);
    const r = assertion(a, first.challenge, USER.handle);
    const { credential } = await verifyAuthentication(POLICY, r, first.challenge, [cred], NOW);
    const second = await authenticationOptions(POLICY, [credential]);
    await refused(verifyAuthentication(POLICY, r, second.challenge, [credential], NOW), 'WEBAUTHN_AUTHENTICATION_FAILED', 'unauthenticated', 'challenge');
  });

  it('refuses malformed and oversized responses', async () => {
    const { a, cred } = await registered();
    const { challenge } = await authenticationOptions(POLICY, [cred]);
    const good = assertion(a, challenge, USER.handle);
    const inner = good.response as Record<string, unknown>;
    const bad: unknown[] = [
      undefined, 'x', {}, { ...good, rawId: 'zzz' }, { ...good, type: 'otp' },
      { ...good, response: { ...inner, signature: undefined } },
      { ...good, response: { ...inner, authenticatorData: 'AAAA' } },
      { ...good, response: { ...inner, userHandle: 42 } },
      { ...good, response: { ...inner, userHandle: 'a'.repeat(100) } },
      { ...good, response: { ...inner, clientDataJSON: 'e30' } },
    ];
    for (const r of bad) {
      await refused(verifyAuthentication(POLICY, r, challenge, [cred], NOW), 'WEBAUTHN_AUTHENTICATION_FAILED', 'unauthenticated', 'malformed');
    }
    const big = { ...good, clientExtensionResults: { pad: 'x'.repeat(MAX_RESPONSE_BYTES) } };
    await refused(verifyAuthentication(POLICY, big, challenge, [cred], NOW), 'WEBAUTHN_RESPONSE_TOO_LARGE', 'too_large');
  });
});

describe('credentialIdOf', () => {
  it('returns the claimed id of a well-formed response, null for anything else', () => {
    assert.equal(credentialIdOf({ id: 'abc_-1' }), 'abc_-1');
    assert.equal(credentialIdOf('{"id":"abc"}'), 'abc');
    for (const r of [null, undefined, 5, '', '{', [], { id: 5 }, { id: '' }, { id: 'a+b' }, { id: 'a'.repeat(1367) }, { id: 'a', pad: 'x'.repeat(MAX_RESPONSE_BYTES) }]) {
      assert.equal(credentialIdOf(r), null, JSON.stringify(r)?.slice(0, 40));
    }
  });
});
