// The `attestry` command line: `serve` and administrative commands.
import { parseArgs } from 'node:util';
import { loadConfig, ConfigError } from '../config/config.ts';
import { accountService, keyFileFor, openStorage, startRegistry } from '../app.ts';
import { runVerifyCommand } from './verify-command.ts';
import { runKeysCommand } from './keys-command.ts';
import { runLogCommand } from './log/log-command.ts';
import { createJsonLogger } from '../observability/json-logger.ts';
import { isAttestryError } from '../core/errors.ts';
import { VERSION } from '../version.ts';
import { checkStorage } from '../core/maintenance/storage-check.ts';
import { Throttling } from '../core/accounts/throttling.ts';
import { systemClock } from '../core/clock.ts';
import { existsSync } from 'node:fs';
import { appendToLog } from '../core/transparency/log.ts';
import { keysRotated } from '../core/transparency/entry.ts';
import { issueCheckpoint } from '../core/transparency/checkpoints.ts';
import { keyIdHex, logKeyFileFor, logOrigin, openLogKey, rotateLogKey } from '../core/transparency/log-key.ts';

const USAGE = `attestry ${VERSION}

Usage:
  attestry serve                      start the registry (configuration: README.md)
  attestry user create <name> --email <address> [--admin] --password-stdin
                                      create an account without the web or npm flow
                                      (works even when registration is closed)
  attestry user unlock <name>         clear the account's failed-attempt counters (lockout) now
  attestry package critical <name> [--off]
                                      mark a package critical: every write then needs a passkey
                                      (phishing-resistant MFA), no token may bypass it
  attestry check                      verify stored data: every artifact's blob exists and
                                      matches its digest, no half-written release (exit 1 if not)
  attestry keys list                  list the registry signing keys (current and retired)
  attestry keys rotate                start signing with a new key; the old one stays listed with an
                                      expiry so its signatures stay valid (restart the server after);
                                      the rotation is an entry of the transparency log
  attestry keys rotate-log            a new transparency-log key (same origin); the previous one cosigns
                                      checkpoints so pinned clients follow; logged (restart servers after)
  attestry verify <name>@<version> --registry <url> [--trusted-root <file>]... [--json]
                                      download a version and verify its tarball, registry signature,
                                      provenance and publish attestation offline (exit 0 only if all do)
  attestry log checkpoint             sign a checkpoint of the transparency log's current size now
                                      (servers also sign one every transparency.checkpointIntervalSeconds)
  attestry log verify <name>@<version> --registry <url> [--log-key <vkey>] [--state <dir>] [--wait <s>]
                                      check the downloaded tarball is the one the transparency log
                                      committed to, under a signed checkpoint (inclusion proof)
  attestry log audit --registry <url> [--state <dir>]
                                      replay the whole log from its tiles; prove it extends the
                                      checkpoint saved last time (a fork fails, with both notes)
  attestry log monitor --registry <url> --scope <@scope> [--package <name>]... [--state <dir>]
                                      print new log entries for your packages since the last run
                                      (exit 3 when there are some)
  attestry version                    print the version
`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function serve(): Promise<void> {
  const config = loadConfig();
  const registry = await startRegistry(config);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`attestry: ${signal} received, finishing in-flight requests\n`);
    registry.close().then(() => process.exit(0), (e: unknown) => {
      process.stderr.write(`attestry: shutdown failed: ${String(e)}\n`);
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function userCreate(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { email: { type: 'string' }, admin: { type: 'boolean', default: false }, 'password-stdin': { type: 'boolean', default: false } },
  });
  const name = positionals[0];
  if (!name || !values.email || !values['password-stdin']) throw new UsageError('user create needs <name>, --email and --password-stdin');
  const config = loadConfig();
  const { store } = await openStorage(config);
  try {
    const accounts = accountService(config, store, createJsonLogger('warn', (l) => process.stderr.write(l)));
    const user = await accounts.register({ name, email: values.email, password: await readStdin() }, { admin: values.admin, bypassClosedRegistration: true });
    process.stdout.write(`created ${user.isAdmin ? 'admin ' : ''}user ${user.name}\n`);
  } finally {
    await store.close();
  }
}

async function userUnlock(args: string[]): Promise<void> {
  const name = args[0];
  if (!name) throw new UsageError('user unlock needs <name>');
  const config = loadConfig();
  const { store } = await openStorage(config);
  try {
    const user = await store.findUserByName(name.toLowerCase());
    if (!user) throw new UsageError(`no user named ${name}`);
    await new Throttling(store, systemClock, createJsonLogger('warn', (l) => process.stderr.write(l))).unlock(user.id);
    await store.insertEvent({ at: Date.now(), type: 'account.unlocked', actorId: user.id, ecosystem: null, packageName: null, version: null, data: { by: 'administrator' } });
    process.stdout.write(`unlocked ${user.name}\n`);
  } finally {
    await store.close();
  }
}

async function packageCritical(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { off: { type: 'boolean', default: false } } });
  const name = positionals[0];
  if (!name) throw new UsageError('package critical needs <name>');
  const { store } = await openStorage(loadConfig());
  try {
    const pkg = await store.findPackage('npm', name);
    if (!pkg) throw new UsageError(`no package named ${name}`);
    await store.updatePackage(pkg.id, { critical: !values.off });
    await store.insertEvent({ at: Date.now(), type: values.off ? 'package.critical-unmarked' : 'package.critical-marked', actorId: null, ecosystem: 'npm', packageName: name, version: null, data: { by: 'administrator' } });
    process.stdout.write(`${name} is ${values.off ? 'no longer ' : ''}critical\n`);
  } finally {
    await store.close();
  }
}

/** `attestry keys rotate`: the rotation is an audit event and a transparency-log entry, in one transaction. */
async function recordRotation(rotation: { previousKeyId: string; keyId: string }): Promise<void> {
  const { store } = await openStorage(loadConfig());
  try {
    const at = Date.now();
    await store.transaction(async (tx) => {
      await tx.insertEvent({ at, type: 'keys.rotated', actorId: null, ecosystem: null, packageName: null, version: null, data: { purpose: 'signing', ...rotation } });
      await appendToLog(tx, keysRotated({ at, purpose: 'signing', keyId: rotation.keyId, previousKeyId: rotation.previousKeyId }));
    });
  } finally {
    await store.close();
  }
}

/**
 * `attestry keys rotate-log`: a new log key of the same origin; the old one cosigns from now on.
 * The rotation is logged and a checkpoint covering it, signed by both keys, is issued at once, so a
 * client that pinned the old key sees the old key vouch for the tree that names the new one.
 */
async function rotateLog(): Promise<void> {
  const config = loadConfig();
  const { key, previousKeyId } = rotateLogKey(logKeyFileFor(config));
  const { store } = await openStorage(config);
  try {
    const at = Date.now();
    const keyId = keyIdHex(key.signer);
    const index = await store.transaction(async (tx) => {
      await tx.insertEvent({ at, type: 'keys.rotated', actorId: null, ecosystem: null, packageName: null, version: null, data: { purpose: 'log', keyId, previousKeyId } });
      return appendToLog(tx, keysRotated({ at, purpose: 'log', keyId, previousKeyId }));
    });
    const checkpoint = await issueCheckpoint({ store, key, clock: systemClock });
    process.stdout.write(`new log key ${keyId} (previous ${previousKeyId} now cosigns); the rotation is log entry ${index}, in the checkpoint of size ${checkpoint.size}\n`);
    process.stdout.write(`new verifier key: ${key.verifierKey}\nrestart running servers so they sign with it\n`);
  } finally {
    await store.close();
  }
}

/** `attestry log checkpoint`: sign a checkpoint of the log's current size now (servers also do it on a timer). */
async function logCheckpoint(): Promise<void> {
  const config = loadConfig();
  const file = logKeyFileFor(config);
  // The server creates the log key (and so the log's origin) at its first start; never here.
  if (!existsSync(file)) throw new UsageError(`no transparency log key at ${file} yet: start the server once`);
  const key = openLogKey(file, logOrigin(config.publicUrl ?? 'http://localhost'));
  const { store } = await openStorage(config);
  try {
    const checkpoint = await issueCheckpoint({ store, key, clock: systemClock });
    process.stdout.write(checkpoint.note);
  } finally {
    await store.close();
  }
}

async function check(): Promise<void> {
  const { store, blobs } = await openStorage(loadConfig());
  try {
    const report = await checkStorage(store, blobs);
    for (const p of report.problems) process.stdout.write(`problem: ${p}\n`);
    process.stdout.write(`checked ${report.artifactsChecked} artifacts: ${report.problems.length === 0 ? 'ok' : `${report.problems.length} problem(s)`}\n`);
    if (report.problems.length > 0) process.exitCode = 1;
  } finally {
    await store.close();
  }
}

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const [command, sub, ...rest] = argv;
  if (command === 'serve') return serve();
  if (command === 'user' && sub === 'create') return userCreate(rest);
  if (command === 'check') return check();
  if (command === 'user' && sub === 'unlock') return userUnlock(rest);
  if (command === 'package' && sub === 'critical') return packageCritical(rest);
  if (command === 'verify') {
    process.exitCode = await runVerifyCommand(sub === undefined ? [] : [sub, ...rest]);
    return;
  }
  if (command === 'log' && sub === 'checkpoint') return logCheckpoint();
  if (command === 'log') {
    process.exitCode = await runLogCommand(sub === undefined ? [] : [sub, ...rest]);
    return;
  }
  if (command === 'keys' && sub === 'rotate-log') return rotateLog();
  if (command === 'keys') {
    process.exitCode = await runKeysCommand(sub === undefined ? [] : [sub, ...rest], keyFileFor(loadConfig()), undefined, recordRotation);
    return;
  }
  if (command === 'version' || command === '--version') {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return;
  }
  throw new UsageError(`unknown command: ${argv.join(' ')}`);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof UsageError) process.stderr.write(`attestry: ${e.message}\n\n${USAGE}`);
  else if (e instanceof ConfigError) process.stderr.write(`attestry: configuration error: ${e.message}\n`);
  else if (isAttestryError(e)) process.stderr.write(`attestry: ${e.message} (${e.code})\n`);
  else process.stderr.write(`attestry: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(e instanceof UsageError || e instanceof ConfigError ? 2 : 1);
});
