// C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint): the signed-note body that commits a log to a
// tree head.
//   <origin>\n<tree size, decimal, no leading zeros>\n<base64 RFC 6962 root hash>\n[<extension>\n]*
// Parsing is strict (one canonical text per checkpoint) so two different texts can never claim
// the same tree head. The log's key name must equal the origin (the spec's SHOULD, made a rule
// here), and opening requires the log's own signature: a witness cosignature alone is not enough.
import { invalid } from '../../core/errors.ts';
import { HASH_SIZE } from './merkle.ts';
import { decodeBase64Strict, hasControlCharacter, open, parseVerifierKey, sign } from './signed-note.ts';
import type { NoteSignature, Signer, Verifier } from './signed-note.ts';

export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Uint8Array;
  /** Opaque extension lines (without newlines); NOT RECOMMENDED by the spec, kept for reading. */
  extensions: readonly string[];
}

export interface OpenedCheckpoint {
  checkpoint: Checkpoint;
  text: string;
  verifiedSignatures: NoteSignature[];
  unverifiedSignatures: NoteSignature[];
}

const SIZE = /^(0|[1-9][0-9]*)$/;

function checkOrigin(origin: string): void {
  // The spec only requires non-empty (Go's sumdb origin "go.sum database tree" has spaces), but
  // surrounding whitespace would make two visually equal origins differ.
  if (origin.length === 0 || origin.trim() !== origin || !origin.isWellFormed() || hasControlCharacter(origin, false)) {
    throw invalid('checkpoint_origin_invalid', 'the origin must be a non-empty line without surrounding spaces');
  }
}

function checkExtension(line: string): void {
  if (line.length === 0 || !line.isWellFormed() || hasControlCharacter(line, false)) {
    throw invalid('checkpoint_extension_invalid', 'extension lines must be non-empty single lines');
  }
}

export function formatCheckpoint(c: Checkpoint): string {
  checkOrigin(c.origin);
  if (!Number.isSafeInteger(c.size) || c.size < 0) throw invalid('checkpoint_size_invalid', 'the tree size must be a non-negative safe integer');
  if (!(c.rootHash instanceof Uint8Array) || c.rootHash.length !== HASH_SIZE) throw invalid('checkpoint_hash_invalid', 'the root hash is 32 bytes');
  c.extensions.forEach(checkExtension);
  const lines = [c.origin, String(c.size), Buffer.from(c.rootHash).toString('base64'), ...c.extensions];
  return `${lines.join('\n')}\n`;
}

export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw invalid('checkpoint_malformed', 'a checkpoint ends in a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw invalid('checkpoint_malformed', 'a checkpoint has at least three lines');
  const [origin, sizeText, hashText, ...extensions] = lines as [string, string, string, ...string[]];
  checkOrigin(origin);
  if (!SIZE.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) {
    throw invalid('checkpoint_size_invalid', 'the tree size must be canonical decimal', { size: sizeText.slice(0, 40) });
  }
  const rootHash = decodeBase64Strict(hashText);
  if (rootHash === undefined || rootHash.length !== HASH_SIZE) throw invalid('checkpoint_hash_invalid', 'the root hash must be base64 of 32 bytes');
  extensions.forEach(checkExtension);
  return { origin, size: Number(sizeText), rootHash, extensions };
}

/** Signs a checkpoint with the log's key (whose name must be the origin) and any cosigners. */
export function signCheckpoint(c: Checkpoint, logSigner: Signer, cosigners: readonly Signer[] = []): string {
  if (logSigner.name !== c.origin) {
    throw invalid('checkpoint_origin_mismatch', 'the log key name must equal the checkpoint origin', { origin: c.origin, key: logSigner.name });
  }
  return sign(formatCheckpoint(c), [logSigner, ...cosigners]);
}

export interface OpenCheckpointOptions {
  /** The log's verifier: its signature is required. */
  logKey: Verifier | string;
  /** Expected origin; defaults to the log key's name. */
  origin?: string;
  /** Other keys (witnesses) whose signatures, if present, are checked too. */
  otherKeys?: readonly (Verifier | string)[];
}

export function openCheckpoint(note: string | Uint8Array, options: OpenCheckpointOptions): OpenedCheckpoint {
  const logKey = typeof options.logKey === 'string' ? parseVerifierKey(options.logKey) : options.logKey;
  const others = (options.otherKeys ?? []).map((v) => (typeof v === 'string' ? parseVerifierKey(v) : v));
  const opened = open(note, [logKey, ...others]);
  if (!opened.verifiedSignatures.some((s) => s.name === logKey.name && s.keyId === logKey.keyId)) {
    throw invalid('checkpoint_log_signature_missing', 'the checkpoint is not signed by the log key');
  }
  const checkpoint = parseCheckpoint(opened.text);
  const expected = options.origin ?? logKey.name;
  if (checkpoint.origin !== expected) {
    throw invalid('checkpoint_origin_mismatch', 'the checkpoint is for another log', { origin: checkpoint.origin, expected });
  }
  return { checkpoint, ...opened };
}
