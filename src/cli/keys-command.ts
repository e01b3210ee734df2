// `attestry keys list|rotate`: inspect and rotate the registry signing key ring.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isAttestryError } from '../core/errors.ts';
import { RegistryKeyRing } from '../security/signing/registry-keys.ts';
import { keysDocument } from '../security/signing/version-signatures.ts';

export const KEYS_USAGE = `Usage:
  attestry keys list [--json]   the registry signing keys, newest first (--json: the body of /-/npm/v1/keys)
  attestry keys rotate          make a new signing key; the current one is retired (signatures it made
                                stay valid) and its private key is deleted. Restart running servers.
`;

export interface KeysCommandIo {
  out(text: string): void;
  err(text: string): void;
}

const processIo: KeysCommandIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

const iso = (ms: number): string => new Date(ms).toISOString();

function list(keyFile: string, json: boolean, io: KeysCommandIo): number {
  // Listing must not create a ring (and a key) as a side effect.
  if (!existsSync(keyFile)) {
    io.err(`attestry keys: no key ring at ${keyFile} (the server creates one when it starts; \`attestry keys rotate\` creates one now)\n`);
    return 1;
  }
  const keys = RegistryKeyRing.open(keyFile).publicKeys();
  if (json) {
    io.out(`${keysDocument(keys)}\n`);
    return 0;
  }
  for (const k of keys) {
    const state = k.expiresAt === null ? 'active ' : 'retired';
    io.out(`${k.keyId}  ${state}  created ${iso(k.createdAt)}${k.expiresAt === null ? '' : `  expired ${iso(k.expiresAt)}`}\n`);
  }
  return 0;
}

/** Records a rotation (the audit event and the transparency log entry); given by the CLI, which owns storage. */
export type RotationRecorder = (rotation: { previousKeyId: string; keyId: string }) => Promise<void>;

async function rotate(keyFile: string, io: KeysCommandIo, record?: RotationRecorder): Promise<number> {
  if (!existsSync(keyFile)) {
    const ring = RegistryKeyRing.open(keyFile);
    io.out(`created key ring ${ring.file} with key ${ring.active().keyId}\n`);
    return 0;
  }
  const ring = RegistryKeyRing.open(keyFile);
  const previous = ring.active().keyId;
  const next = ring.rotate();
  const retired = ring.publicKeys().find((k) => k.keyId === previous);
  io.out(`new active key ${next}\n`);
  io.out(`retired ${previous} at ${retired?.expiresAt === null || retired === undefined ? 'now' : iso(retired.expiresAt)}; signatures it made before then stay valid\n`);
  io.out('restart running servers so they sign with the new key\n');
  // After the ring changed (the rotation is real) — a failure here is reported, the key stays rotated.
  if (record) {
    try {
      await record({ previousKeyId: previous, keyId: next });
      io.out('the rotation is recorded in the transparency log\n');
    } catch (e) {
      io.err(`attestry keys: the key was rotated but recording it in the transparency log failed: ${e instanceof Error ? e.message : String(e)}\n`);
      return 1;
    }
  }
  return 0;
}

/** Runs `attestry keys <args>` against the ring in `keyFile`; returns the exit code (0 ok, 1 failed, 2 usage). */
export async function runKeysCommand(args: string[], keyFile: string, io: KeysCommandIo = processIo, record?: RotationRecorder): Promise<number> {
  let positionals: string[];
  let json: boolean;
  try {
    const parsed = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
    positionals = parsed.positionals;
    json = parsed.values.json;
  } catch (e) {
    io.err(`attestry keys: ${e instanceof Error ? e.message : String(e)}\n${KEYS_USAGE}`);
    return 2;
  }
  const [sub, ...extra] = positionals;
  if (extra.length > 0 || (sub !== 'list' && sub !== 'rotate') || (sub === 'rotate' && json)) {
    io.err(KEYS_USAGE);
    return 2;
  }
  try {
    return sub === 'list' ? list(keyFile, json, io) : await rotate(keyFile, io, record);
  } catch (e) {
    // Ring errors name the file and the problem, never key material.
    io.err(`attestry keys: ${isAttestryError(e) ? `${e.message} [${e.code}]` : e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}
