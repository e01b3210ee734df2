// C2SP signed-note (c2sp.org/signed-note) with Ed25519 signatures (type 0x01), and the key
// encodings of golang.org/x/mod/sumdb/note so keys and notes interoperate with Go tooling:
//   verifier key  <name>+<hex key ID>+<base64(0x01 || 32-byte public key)>
//   signer key    PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || 32-byte seed)>
//   key ID        first 4 bytes (big-endian) of SHA-256(name || 0x0A || 0x01 || public key)
// A note is text ending in a newline, a blank line, then lines `— <name> <base64(key ID || sig)>`.
// Ed25519 is node:crypto's; keys are built from raw bytes through fixed DER prefixes.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign as edSign, verify as edVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { invalid } from '../../core/errors.ts';

export const ALG_ED25519 = 0x01;
/** Go's limit; the spec requires accepting at least 16. */
export const MAX_SIGNATURES = 100;
const SIG_PREFIX = '\u2014 '; // em dash, space

// PKCS#8 and SPKI DER headers for a raw Ed25519 seed / public key (RFC 8410).
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

export interface Verifier {
  readonly name: string;
  readonly keyId: number;
  /** 0x01 || public key, as in the verifier key string. */
  readonly encodedKey: Buffer;
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

export interface Signer {
  readonly name: string;
  readonly keyId: number;
  sign(message: Uint8Array): Buffer;
}

export interface NoteSignature {
  name: string;
  keyId: number;
  /** base64(key ID || signature), exactly as on the signature line. */
  base64: string;
}

export interface OpenedNote {
  text: string;
  verifiedSignatures: NoteSignature[];
  /** Signatures by keys the caller did not supply (witnesses, rotated keys): ignored, not checked. */
  unverifiedSignatures: NoteSignature[];
}

/** Key names: non-empty, no Unicode space, no '+', no control characters. */
export function isValidKeyName(name: string): boolean {
  // JavaScript's \s covers Unicode White_Space except U+0085 (NEL), which Go's unicode.IsSpace includes.
  return name.length > 0 && name.isWellFormed() && !/[\s\u0085+]/u.test(name) && !hasControlCharacter(name, false);
}

/** True when text holds an ASCII control character (below U+0020), newline excepted if allowed. */
export function hasControlCharacter(text: string, allowNewline: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && !(allowNewline && c === 0x0a)) return true;
  }
  return false;
}

function requireName(name: string): void {
  if (!isValidKeyName(name)) throw invalid('note_key_name_invalid', 'a key name must be non-empty, without spaces or "+"');
}

export function keyIdOf(name: string, encodedKey: Uint8Array): number {
  const digest = createHash('sha256').update(name, 'utf8').update(Buffer.from([0x0a])).update(encodedKey).digest();
  return digest.readUInt32BE(0);
}

const hex8 = (id: number): string => id.toString(16).padStart(8, '0');

/** Strict standard base64 (RFC 4648 §4, padded): only the canonical encoding decodes. */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

function parseKeyId(text: string): number | undefined {
  return /^[0-9a-f]{8}$/.test(text) ? Number.parseInt(text, 16) : undefined;
}

function publicKeyFromSeed(seed: Uint8Array): { privateKey: KeyObject; publicRaw: Buffer } {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { privateKey, publicRaw: spki.subarray(SPKI_ED25519.length) };
}

/** Splits at the first `count − 1` plus signs: the base64 key at the end may itself contain '+'. */
function splitPlus(text: string, count: number): string[] {
  const parts: string[] = [];
  let rest = text;
  while (parts.length < count - 1) {
    const at = rest.indexOf('+');
    if (at < 0) break;
    parts.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  parts.push(rest);
  return parts;
}

// ---- verifier keys ----

export function parseVerifierKey(vkey: string): Verifier {
  const bad = (why: string) => invalid('note_verifier_key_invalid', `malformed verifier key: ${why}`);
  const parts = splitPlus(vkey, 3);
  if (parts.length !== 3) throw bad('expected <name>+<key ID>+<key>');
  const [name, idText, keyText] = parts as [string, string, string];
  if (!isValidKeyName(name)) throw bad('invalid name');
  const keyId = parseKeyId(idText);
  const encodedKey = decodeBase64Strict(keyText);
  if (keyId === undefined || encodedKey === undefined) throw bad('bad key ID or key encoding');
  if (encodedKey[0] !== ALG_ED25519) throw invalid('note_key_algorithm_unsupported', 'only Ed25519 (0x01) keys are supported');
  if (encodedKey.length !== 33) throw bad('an Ed25519 key is 32 bytes');
  if (keyIdOf(name, encodedKey) !== keyId) throw bad('the key ID does not match the key');
  return ed25519Verifier(name, encodedKey.subarray(1));
}

export function ed25519Verifier(name: string, publicKey: Uint8Array): Verifier {
  requireName(name);
  if (publicKey.length !== 32) throw invalid('note_verifier_key_invalid', 'an Ed25519 public key is 32 bytes');
  const encodedKey = Buffer.concat([Buffer.from([ALG_ED25519]), publicKey]);
  const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519, publicKey]), format: 'der', type: 'spki' });
  return {
    name,
    keyId: keyIdOf(name, encodedKey),
    encodedKey,
    verify: (message, signature) => signature.length === 64 && edVerify(null, message, key, signature),
  };
}

export function formatVerifierKey(v: Pick<Verifier, 'name' | 'keyId' | 'encodedKey'>): string {
  return `${v.name}+${hex8(v.keyId)}+${v.encodedKey.toString('base64')}`;
}

// ---- signer keys ----

export function parseSignerKey(skey: string): Signer & { verifierKey: string } {
  const bad = (why: string) => invalid('note_signer_key_invalid', `malformed signer key: ${why}`);
  const parts = splitPlus(skey, 5);
  if (parts.length !== 5 || parts[0] !== 'PRIVATE' || parts[1] !== 'KEY') throw bad('expected PRIVATE+KEY+<name>+<key ID>+<key>');
  const [, , name, idText, keyText] = parts as [string, string, string, string, string];
  if (!isValidKeyName(name)) throw bad('invalid name');
  const keyId = parseKeyId(idText);
  const encoded = decodeBase64Strict(keyText);
  if (keyId === undefined || encoded === undefined) throw bad('bad key ID or key encoding');
  if (encoded[0] !== ALG_ED25519) throw invalid('note_key_algorithm_unsupported', 'only Ed25519 (0x01) keys are supported');
  if (encoded.length !== 33) throw bad('an Ed25519 seed is 32 bytes');
  const { privateKey, publicRaw } = publicKeyFromSeed(encoded.subarray(1));
  const encodedKey = Buffer.concat([Buffer.from([ALG_ED25519]), publicRaw]);
  // The ID is of the public key: a mismatch means the string was edited or belongs to another key.
  if (keyIdOf(name, encodedKey) !== keyId) throw bad('the key ID does not match the key');
  return {
    name,
    keyId,
    verifierKey: formatVerifierKey({ name, keyId, encodedKey }),
    sign: (message) => edSign(null, message, privateKey),
  };
}

/** A fresh Ed25519 key pair, as the two key strings. The signer key is a secret. */
export function generateSignerKey(name: string): { signerKey: string; verifierKey: string } {
  requireName(name);
  const { privateKey } = generateKeyPairSync('ed25519');
  const d = privateKey.export({ format: 'jwk' }).d;
  if (d === undefined) throw new Error('Ed25519 JWK export has no private part');
  const seed = Buffer.from(d, 'base64url');
  const { publicRaw } = publicKeyFromSeed(seed);
  const encodedKey = Buffer.concat([Buffer.from([ALG_ED25519]), publicRaw]);
  const keyId = keyIdOf(name, encodedKey);
  const signerKey = `PRIVATE+KEY+${name}+${hex8(keyId)}+${Buffer.concat([Buffer.from([ALG_ED25519]), seed]).toString('base64')}`;
  return { signerKey, verifierKey: formatVerifierKey({ name, keyId, encodedKey }) };
}

export function verifierKeyFrom(signerKey: string): string {
  return parseSignerKey(signerKey).verifierKey;
}

// ---- notes ----

/** Valid UTF-8 (a well-formed string) with no ASCII control characters other than newline. */
function hasOnlyAllowedCharacters(text: string): boolean {
  return text.isWellFormed() && !hasControlCharacter(text, true);
}

export function validateNoteText(text: string): void {
  if (!text.endsWith('\n')) throw invalid('note_text_invalid', 'note text must end in a newline');
  if (!hasOnlyAllowedCharacters(text)) throw invalid('note_text_invalid', 'note text must be valid UTF-8 without control characters');
}

/** Signs `text` with each signer; returns the complete note. */
export function sign(text: string, signers: Signer | readonly Signer[]): string {
  validateNoteText(text);
  const list = Array.isArray(signers) ? (signers as readonly Signer[]) : [signers as Signer];
  if (list.length === 0) throw invalid('note_no_signer', 'a note needs at least one signature');
  if (list.length > MAX_SIGNATURES) throw invalid('note_too_many_signatures', `at most ${MAX_SIGNATURES} signatures`);
  const message = Buffer.from(text, 'utf8');
  const lines = list.map((s) => {
    requireName(s.name);
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(s.keyId >>> 0);
    return `${SIG_PREFIX}${s.name} ${Buffer.concat([prefix, s.sign(message)]).toString('base64')}\n`;
  });
  return `${text}\n${lines.join('')}`;
}

function decodeNote(note: string | Uint8Array): string {
  if (typeof note === 'string') return note;
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(note);
  } catch {
    throw invalid('note_malformed', 'a note must be valid UTF-8');
  }
}

/**
 * Opens a signed note: every signature by a supplied verifier (same name and key ID) must verify,
 * at least one must, and signatures by other keys are returned unchecked.
 */
export function open(note: string | Uint8Array, verifiers: readonly (Verifier | string)[]): OpenedNote {
  const malformed = (why: string) => invalid('note_malformed', `malformed note: ${why}`);
  const textAll = decodeNote(note);
  if (!hasOnlyAllowedCharacters(textAll)) throw malformed('invalid UTF-8 or a control character');
  // The text ends at the last blank line; the text itself may contain blank lines.
  const split = textAll.lastIndexOf('\n\n');
  if (split < 0) throw malformed('no signature block');
  const text = textAll.slice(0, split + 1);
  const block = textAll.slice(split + 2);
  if (block.length === 0 || !block.endsWith('\n')) throw malformed('the signature block must end in a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw invalid('note_too_many_signatures', `more than ${MAX_SIGNATURES} signatures`);

  const known = verifiers.map((v) => (typeof v === 'string' ? parseVerifierKey(v) : v));
  const message = Buffer.from(text, 'utf8');
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  const seen = new Set<string>();
  for (const line of lines) {
    if (!line.startsWith(SIG_PREFIX)) throw malformed('a signature line must start with an em dash and a space');
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(' ');
    if (space < 0) throw malformed('a signature line is "— <name> <signature>"');
    const name = rest.slice(0, space);
    const b64 = rest.slice(space + 1);
    const bytes = decodeBase64Strict(b64);
    if (!isValidKeyName(name) || bytes === undefined || bytes.length < 5) throw malformed('bad key name or signature encoding');
    // Identical lines add nothing; drop repeats rather than count them twice.
    if (seen.has(line)) continue;
    seen.add(line);
    const keyId = bytes.readUInt32BE(0);
    const signature: NoteSignature = { name, keyId, base64: b64 };
    const verifier = known.find((v) => v.name === name && v.keyId === keyId);
    if (verifier === undefined) {
      unverified.push(signature);
      continue;
    }
    // A known key with a bad signature means the note was tampered with: reject it whole.
    if (!verifier.verify(message, bytes.subarray(4))) {
      throw invalid('note_bad_signature', `invalid signature for key ${name}+${hex8(keyId)}`, { name, keyId: hex8(keyId) });
    }
    verified.push(signature);
  }
  if (verified.length === 0) throw invalid('note_unverified', 'the note carries no signature by a known key');
  return { text, verifiedSignatures: verified, unverifiedSignatures: unverified };
}
