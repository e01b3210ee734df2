// Registry key identifiers, computed the way the npm registry computes them.
//
// npm labels its keys `SHA256:<base64, no padding>` and calls the key type `ecdsa-sha2-nistp256`:
// that is an OpenSSH fingerprint, i.e. sha256 over the SSH wire encoding of the public key
// (string "ecdsa-sha2-nistp256", string "nistp256", string Q), NOT over the SPKI DER. Checked against
// both keys npm publishes (test/unit/signing-ring.test.ts). npm clients only compare key ids as
// strings, but computing them the same way keeps our ids meaningful next to npm's.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { invalid } from '../../core/errors.ts';

const SSH_KEY_TYPE = 'ecdsa-sha2-nistp256';
const SSH_CURVE = 'nistp256';

/** Parses a DER SubjectPublicKeyInfo and insists on an ECDSA P-256 key (the only kind npm clients accept). */
export function p256PublicKey(spkiDer: Buffer): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
  } catch {
    throw invalid('REGISTRY_KEY_INVALID', 'the public key is not a DER SubjectPublicKeyInfo');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw invalid('REGISTRY_KEY_INVALID', 'the public key is not an ECDSA P-256 key');
  }
  return key;
}

function sshString(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** 'SHA256:' + unpadded base64 of the OpenSSH fingerprint of a P-256 public key given as SPKI DER. */
export function keyIdOf(spkiDer: Buffer): string {
  const jwk = p256PublicKey(spkiDer).export({ format: 'jwk' });
  if (typeof jwk.x !== 'string' || typeof jwk.y !== 'string') {
    throw invalid('REGISTRY_KEY_INVALID', 'the public key has no affine coordinates');
  }
  const point = Buffer.concat([Buffer.from([0x04]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
  const blob = Buffer.concat([sshString(Buffer.from(SSH_KEY_TYPE)), sshString(Buffer.from(SSH_CURVE)), sshString(point)]);
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Strict base64 (standard alphabet, canonical padding): Buffer.from(…, 'base64') silently skips junk. */
export function decodeBase64Strict(text: string): Buffer | null {
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return null;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : null;
}
