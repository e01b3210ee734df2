// The transparency log's signer key: an Ed25519 signed-note key in a file beside the registry
// keys (`<dataDir>/keys/log-key`, mode 0600), created at first start and never replaced — a log
// whose key changes silently is a log nobody can audit. Rotation (`attestry keys rotate-log`) is
// explicit and logged: the new key goes first in the file, the previous one stays after it and
// cosigns every checkpoint, so clients that pinned it can follow the handover.
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { AttestryError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { generateSignerKey, isValidKeyName, parseSignerKey, type Signer } from '../../security/transparency/signed-note.ts';
import { readPrivateFile, writeFileAtomic } from '../../security/signing/atomic-file.ts';

export interface LogKey {
  /** The signer; its name is the log's origin. */
  readonly signer: Signer;
  /** `<origin>+<hex key id>+<base64 0x01||public key>` (golang.org/x/mod/sumdb/note). */
  readonly verifierKey: string;
  /** The checkpoint origin: the key's name, fixed when the key was created. */
  readonly origin: string;
  readonly file: string;
  /** The previous key, kept after a rotation: it cosigns checkpoints (same origin, another key id). */
  readonly previous: (Signer & { readonly verifierKey: string }) | null;
}

type LogKeyErrorCode = 'LOG_KEY_UNREADABLE' | 'LOG_KEY_PERMISSIONS' | 'LOG_KEY_CORRUPT';

function logKeyError(code: LogKeyErrorCode, file: string, reason: string): AttestryError {
  return new AttestryError('unavailable', code, `transparency log key ${file}: ${reason}`);
}

/**
 * The log's origin for a public URL (docs/transparency.md): the URL without scheme and trailing
 * slash, plus `/-/tlog`, e.g. `registry.example.internal:4873/-/tlog`.
 */
export function logOrigin(publicUrl: string): string {
  const origin = `${publicUrl.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/+$/, '')}/-/tlog`;
  if (!isValidKeyName(origin)) throw new AttestryError('invalid', 'LOG_ORIGIN_INVALID', `the public URL ${publicUrl} does not make a valid log origin (no spaces or '+')`);
  return origin;
}

export function logKeyFileFor(config: { dataDir: string; transparency: { keyFile: string | undefined } }): string {
  return config.transparency.keyFile ?? join(config.dataDir, 'keys', 'log-key');
}

function readKeyFile(file: string): string | null {
  return readPrivateFile(file, (problem, reason) => logKeyError(problem === 'permissions' ? 'LOG_KEY_PERMISSIONS' : 'LOG_KEY_UNREADABLE', file, reason));
}

function parseKeyFile(text: string, file: string): LogKey {
  // One signer key line (the current key), optionally a second (the previous key), each with a
  // newline: anything else is not a file we wrote.
  const m = /^(PRIVATE\+KEY\+[^\n]+)\n(?:(PRIVATE\+KEY\+[^\n]+)\n)?$/.exec(text);
  if (!m) throw logKeyError('LOG_KEY_CORRUPT', file, 'is not one or two signer key lines (PRIVATE+KEY+<name>+<id>+<key>)');
  try {
    const signer = parseSignerKey(m[1] as string);
    const previous = m[2] === undefined ? null : parseSignerKey(m[2]);
    if (previous && (previous.name !== signer.name || previous.keyId === signer.keyId)) {
      throw new Error('the previous key must have the same name (origin) and another key id');
    }
    return { signer, verifierKey: signer.verifierKey, origin: signer.name, file, previous };
  } catch (e) {
    throw logKeyError('LOG_KEY_CORRUPT', file, (e as Error).message);
  }
}

/**
 * Replaces the current key with a new one of the same origin; the current one becomes the
 * previous (cosigning) key and an older previous key is dropped. The file must exist.
 */
export function rotateLogKey(file: string): { key: LogKey; previousKeyId: string } {
  const path = resolve(file);
  const existing = readKeyFile(path);
  if (existing === null) throw logKeyError('LOG_KEY_UNREADABLE', path, 'does not exist yet (the server creates it at its first start)');
  const current = parseKeyFile(existing, path);
  const { signerKey } = generateSignerKey(current.origin);
  const currentLine = existing.split('\n')[0] as string;
  const text = `${signerKey}\n${currentLine}\n`;
  writeFileAtomic(path, text, 'replace');
  return { key: parseKeyFile(text, path), previousKeyId: keyIdHex(current.signer) };
}

/** A key id as the verifier key string spells it (8 lowercase hex digits). */
export const keyIdHex = (s: Pick<Signer, 'keyId'>): string => s.keyId.toString(16).padStart(8, '0');

/**
 * Opens the key at `file`, creating it (directory 0700, file 0600, atomically, never over an
 * existing file) named `origin` when absent. A file that exists but cannot be read, is readable by
 * others, or is not a valid key stops the caller (start-up): it is never replaced.
 *
 * The origin is the key's name, fixed at creation: if the public URL changes later the log keeps
 * its identity (a warning is logged) rather than forking into a second log.
 */
export function openLogKey(file: string, origin: string, log?: Logger): LogKey {
  const path = resolve(file);
  const existing = readKeyFile(path);
  let key: LogKey;
  if (existing !== null) key = parseKeyFile(existing, path);
  else {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const { signerKey } = generateSignerKey(origin);
    if (writeFileAtomic(path, `${signerKey}\n`, 'create')) key = parseKeyFile(`${signerKey}\n`, path);
    else {
      // Another process created it between our read and our link: use theirs.
      const theirs = readKeyFile(path);
      if (theirs === null) throw logKeyError('LOG_KEY_UNREADABLE', path, 'appeared and disappeared while being created');
      key = parseKeyFile(theirs, path);
    }
  }
  if (key.origin !== origin) {
    log?.warn('the transparency log keeps the origin its key was created with; the public URL now suggests another', { origin: key.origin, fromPublicUrl: origin, keyFile: path });
  }
  return key;
}
