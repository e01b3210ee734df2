// C2SP signed-note and tlog-checkpoint: Go's published vectors must verify with our code, our
// notes must verify with Go's (golang.org/x/mod/sumdb/note, when Debian's Go is installed), and
// every malformed or tampered note is refused with its code.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isAttestryError } from '../../src/core/errors.ts';
import { formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint } from '../../src/security/transparency/checkpoint.ts';
import { InMemoryTree } from '../../src/security/transparency/merkle.ts';
import {
  ed25519Verifier,
  generateSignerKey,
  keyIdOf,
  open,
  parseSignerKey,
  parseVerifierKey,
  sign,
  verifierKeyFrom,
} from '../../src/security/transparency/signed-note.ts';

interface GoVectors {
  peter: { signerKey: string; verifierKey: string; text: string; signatureLine: string };
  enoch: { verifierKey: string; signatureLine: string };
  badVerifierKeys: string[];
}
const G = JSON.parse(readFileSync(new URL('../vectors/transparency/signed-note-go.json', import.meta.url), 'utf8')) as GoVectors;
const codeOf = (code: string) => (e: unknown) => isAttestryError(e) && e.code === code;
const peterNote = `${G.peter.text}\n${G.peter.signatureLine}`;

describe('signed-note: golang.org/x/mod/sumdb/note vectors', () => {
  it('derives the published key ID and verifier key from the signer key', () => {
    assert.equal(verifierKeyFrom(G.peter.signerKey), G.peter.verifierKey);
    const v = parseVerifierKey(G.peter.verifierKey);
    assert.equal(v.keyId, 0xc74f20a3);
    assert.equal(keyIdOf(v.name, v.encodedKey), 0xc74f20a3);
  });

  it('signs byte-for-byte as Go does (Ed25519 is deterministic)', () => {
    assert.equal(sign(G.peter.text, parseSignerKey(G.peter.signerKey)), peterNote);
  });

  it('opens the published note; an unknown key\'s signature is kept unverified', () => {
    const opened = open(`${G.peter.text}\n${G.peter.signatureLine}${G.enoch.signatureLine}`, [G.peter.verifierKey]);
    assert.equal(opened.text, G.peter.text);
    assert.deepEqual(opened.verifiedSignatures.map((s) => [s.name, s.keyId]), [['PeterNeumann', 0xc74f20a3]]);
    assert.deepEqual(opened.unverifiedSignatures.map((s) => [s.name, s.keyId]), [['EnochRoot', 0xaf0cfe78]]);
    const both = open(`${G.peter.text}\n${G.peter.signatureLine}${G.enoch.signatureLine}`, [G.peter.verifierKey, G.enoch.verifierKey]);
    assert.equal(both.verifiedSignatures.length, 2);
  });

  it('refuses the published bad verifier keys and every single-character change of a good one', () => {
    for (const k of G.badVerifierKeys) assert.throws(() => parseVerifierKey(k), (e: unknown) => isAttestryError(e) && e.code.startsWith('note_'));
    const k = G.peter.verifierKey;
    for (let i = 0; i < k.length; i++) {
      const mangled = k.slice(0, i) + String.fromCharCode(k.charCodeAt(i) + 1) + k.slice(i + 1);
      assert.throws(() => parseVerifierKey(mangled), (e: unknown) => isAttestryError(e) && e.code.startsWith('note_'), mangled);
    }
    for (let j = 1; j < k.length; j++) assert.throws(() => parseVerifierKey(k.slice(0, j)));
  });

  it('refuses mangled signer keys', () => {
    const s = G.peter.signerKey;
    assert.throws(() => parseSignerKey(s.replace('PRIVATE+KEY', 'PRIVATE+KEX')), codeOf('note_signer_key_invalid'));
    assert.throws(() => parseSignerKey(s.replace('c74f20a3', 'c74f20a4')), codeOf('note_signer_key_invalid'));
    assert.throws(() => parseSignerKey(s.replace('PeterNeumann', 'Peter+Neumann')), codeOf('note_signer_key_invalid'));
    assert.throws(() => parseSignerKey(s.slice(0, -1)), codeOf('note_signer_key_invalid'));
    assert.throws(() => parseSignerKey(G.peter.verifierKey), codeOf('note_signer_key_invalid'));
  });
});

describe('signed-note: refusals', () => {
  const text = G.peter.text;
  const peter = [G.peter.verifierKey];

  it('refuses a known key whose signature does not verify (tampered text or signature)', () => {
    assert.throws(() => open(peterNote.replace('cryptography', 'cryptographY'), peter), codeOf('note_bad_signature'));
    const sig = G.peter.signatureLine;
    const flipped = sig.replace('x08go/ZJ', 'x08go/ZK'); // key ID bytes intact, signature changed
    assert.throws(() => open(`${text}\n${flipped}`, peter), codeOf('note_bad_signature'));
  });

  it('refuses a note with no signature by a known key', () => {
    assert.throws(() => open(peterNote, [G.enoch.verifierKey]), codeOf('note_unverified'));
    assert.throws(() => open(peterNote, []), codeOf('note_unverified'));
    // Same name, other key ID: ignored as unknown, so still unverified.
    const otherId = G.peter.signatureLine.replace('x08g', 'xxxx');
    assert.throws(() => open(`${text}\n${otherId}`, peter), codeOf('note_unverified'));
  });

  it('refuses malformed notes', () => {
    const bad = [
      text, // no signature block
      `${text}\n`, // empty signature block
      `${text}\n${G.peter.signatureLine.slice(0, -1)}`, // no final newline
      `${text}\n- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`, // hyphen, not em dash
      `${text}\n— PeterNeumann\n`,
      `${text}\n— Peter+Neumann x08go/ZJ\n`,
      `${text}\n— PeterNeumann x08go/ZJkuBS9UG\n`, // not padded base64
      `${text}\n— PeterNeumann AAAA\n`, // under 5 bytes
      `${text}\n— PeterNeumann  x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`,
      `tab\there\n\n${G.peter.signatureLine}`,
      `cr\r\n\n${G.peter.signatureLine}`,
      Buffer.concat([Buffer.from('bad utf8 \xff'.replace('\xff', ''), 'utf8'), Buffer.from([0xff, 0x0a, 0x0a]), Buffer.from(G.peter.signatureLine)]),
    ];
    for (const n of bad) assert.throws(() => open(n, peter), codeOf('note_malformed'), JSON.stringify(String(n)));
  });

  it('refuses more than 100 signatures, and accepts 100', () => {
    const enoch = G.enoch.signatureLine;
    // Distinct unknown signatures so none is dropped as a repeat.
    const others = Array.from({ length: 100 }, (_, i) => enoch.replace('EnochRoot', `Enoch${i}`));
    assert.throws(() => open(`${text}\n${G.peter.signatureLine}${others.join('')}`, peter), codeOf('note_too_many_signatures'));
    const ok = open(`${text}\n${G.peter.signatureLine}${others.slice(1).join('')}`, peter);
    assert.equal(ok.unverifiedSignatures.length, 99);
  });

  it('refuses to sign invalid text or with an invalid name', () => {
    const signer = parseSignerKey(G.peter.signerKey);
    assert.throws(() => sign('no newline', signer), codeOf('note_text_invalid'));
    assert.throws(() => sign('bell \u0007\n', signer), codeOf('note_text_invalid'));
    assert.throws(() => sign('lone \ud800 surrogate\n', signer), codeOf('note_text_invalid'));
    assert.throws(() => sign(text, []), codeOf('note_no_signer'));
    for (const name of ['', 'a b', 'a+b', 'a\u00a0b', 'a\u2003b', 'a\nb']) {
      assert.throws(() => generateSignerKey(name), codeOf('note_key_name_invalid'), JSON.stringify(name));
    }
    assert.throws(() => ed25519Verifier('log', Buffer.alloc(31)), codeOf('note_verifier_key_invalid'));
  });

  it('texts may contain blank lines: the last blank line separates the signatures', () => {
    const keys = generateSignerKey('example.com/log');
    const body = 'first\n\nsecond\n';
    const opened = open(sign(body, parseSignerKey(keys.signerKey)), [keys.verifierKey]);
    assert.equal(opened.text, body);
  });
});

describe('tlog-checkpoint', () => {
  const origin = 'registry.example/attestry/log';
  const keys = generateSignerKey(origin);
  const tree = new InMemoryTree();
  for (let i = 0; i < 1000; i++) tree.append(Buffer.from(`entry ${i}`));
  const cp = { origin, size: tree.size, rootHash: tree.root(), extensions: [] };

  it('formats the spec body and parses it back', () => {
    const text = formatCheckpoint(cp);
    assert.equal(text, `${origin}\n1000\n${Buffer.from(tree.root()).toString('base64')}\n`);
    assert.deepEqual(parseCheckpoint(text), { ...cp, rootHash: Buffer.from(tree.root()) });
    const withExt = parseCheckpoint(`${text}extension one\nextension two\n`);
    assert.deepEqual(withExt.extensions, ['extension one', 'extension two']);
    // The spec example body (a checkpoint of the "behind-the-sofa" log).
    const spec = parseCheckpoint('example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n');
    assert.equal(spec.size, 20852163);
    // Go's sumdb origin contains spaces; origins are opaque.
    assert.equal(parseCheckpoint('go.sum database tree\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n').size, 0);
  });

  it('refuses non-canonical checkpoint bodies', () => {
    const h = Buffer.from(tree.root()).toString('base64');
    const cases: [string, string][] = [
      [`${origin}\n1000\n${h}`, 'checkpoint_malformed'],
      [`${origin}\n1000\n`, 'checkpoint_malformed'],
      [`\n1000\n${h}\n`, 'checkpoint_origin_invalid'],
      [`${origin} \n1000\n${h}\n`, 'checkpoint_origin_invalid'],
      [` ${origin}\n1000\n${h}\n`, 'checkpoint_origin_invalid'],
      [`${origin}\n01000\n${h}\n`, 'checkpoint_size_invalid'],
      [`${origin}\n+1000\n${h}\n`, 'checkpoint_size_invalid'],
      [`${origin}\n1e3\n${h}\n`, 'checkpoint_size_invalid'],
      [`${origin}\n 1000\n${h}\n`, 'checkpoint_size_invalid'],
      [`${origin}\n99999999999999999999\n${h}\n`, 'checkpoint_size_invalid'],
      [`${origin}\n1000\n${h.slice(0, -1)}\n`, 'checkpoint_hash_invalid'],
      [`${origin}\n1000\n${Buffer.alloc(31).toString('base64')}\n`, 'checkpoint_hash_invalid'],
      [`${origin}\n1000\n${h.replace(/=$/, '')}\n`, 'checkpoint_hash_invalid'],
      [`${origin}\n1000\n${h}\n\n`, 'checkpoint_extension_invalid'],
    ];
    for (const [text, code] of cases) assert.throws(() => parseCheckpoint(text), codeOf(code), JSON.stringify(text));
    assert.throws(() => formatCheckpoint({ ...cp, size: -1 }), codeOf('checkpoint_size_invalid'));
    assert.throws(() => formatCheckpoint({ ...cp, rootHash: Buffer.alloc(16) }), codeOf('checkpoint_hash_invalid'));
    assert.throws(() => formatCheckpoint({ ...cp, extensions: ['a\nb'] }), codeOf('checkpoint_extension_invalid'));
  });

  it('signs with the log key named as the origin and opens with it', () => {
    const note = signCheckpoint(cp, parseSignerKey(keys.signerKey));
    const opened = openCheckpoint(note, { logKey: keys.verifierKey });
    assert.equal(opened.checkpoint.size, 1000);
    assert.deepEqual(Buffer.from(opened.checkpoint.rootHash), Buffer.from(tree.root()));
  });

  it('refuses a log key named other than the origin, another log, and witness-only signatures', () => {
    const other = generateSignerKey('other.example/log');
    assert.throws(() => signCheckpoint(cp, parseSignerKey(other.signerKey)), codeOf('checkpoint_origin_mismatch'));
    // A note signed by the other log for our origin text: the origin check fails on open.
    const foreign = sign(formatCheckpoint(cp), parseSignerKey(other.signerKey));
    assert.throws(() => openCheckpoint(foreign, { logKey: other.verifierKey }), codeOf('checkpoint_origin_mismatch'));
    // A witness cosigned but the log did not: refused even though a known signature verified.
    const witness = generateSignerKey('witness.example/w1');
    const witnessOnly = sign(formatCheckpoint(cp), parseSignerKey(witness.signerKey));
    assert.throws(() => openCheckpoint(witnessOnly, { logKey: keys.verifierKey, otherKeys: [witness.verifierKey] }), codeOf('checkpoint_log_signature_missing'));
    // Log and witness together: both verified.
    const both = signCheckpoint(cp, parseSignerKey(keys.signerKey), [parseSignerKey(witness.signerKey)]);
    assert.equal(openCheckpoint(both, { logKey: keys.verifierKey, otherKeys: [witness.verifierKey] }).verifiedSignatures.length, 2);
    assert.equal(openCheckpoint(both, { logKey: keys.verifierKey }).unverifiedSignatures.length, 1);
  });

  it('refuses a checkpoint whose size or root was edited after signing', () => {
    const note = signCheckpoint(cp, parseSignerKey(keys.signerKey));
    assert.throws(() => openCheckpoint(note.replace('\n1000\n', '\n1001\n'), { logKey: keys.verifierKey }), codeOf('note_bad_signature'));
    const other = Buffer.from(tree.root(999)).toString('base64');
    const swapped = note.replace(Buffer.from(tree.root()).toString('base64'), other);
    assert.throws(() => openCheckpoint(swapped, { logKey: keys.verifierKey }), codeOf('note_bad_signature'));
  });
});

// ---- the independent verifier: golang.org/x/mod/sumdb/note from Debian's packages ----

const GOPATH = '/usr/share/gocode'; // where Debian's golang-golang-x-mod-dev installs the sources
function buildGoVerifier(): string | undefined {
  if (spawnSync('go', ['version']).status !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'attestry-go-note-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'go-note-verifier');
  const src = fileURLToPath(new URL('../support/go-note-verifier/main.go', import.meta.url));
  const env = { ...process.env, GO111MODULE: 'off', GOPATH, GOCACHE: join(dir, 'cache'), GOPROXY: 'off', GOFLAGS: '' };
  const built = spawnSync('go', ['build', '-o', out, src], { env, encoding: 'utf8' });
  return built.status === 0 ? out : undefined;
}
const goVerifier = buildGoVerifier();

describe('independent verification with Go (golang.org/x/mod/sumdb/note)', { skip: goVerifier === undefined && 'Go or golang-golang-x-mod-dev not installed' }, () => {
  const run = (note: string, ...keys: string[]) => spawnSync(goVerifier as string, keys, { input: note, encoding: 'utf8' });

  it('Go verifies the published vector (sanity of the harness)', () => {
    const r = run(peterNote, G.peter.verifierKey);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${G.peter.text}verified PeterNeumann c74f20a3\n`);
  });

  it('Go verifies a checkpoint we sign with a key we generate, and rejects it tampered', () => {
    const origin = 'registry.example/attestry/log';
    const keys = generateSignerKey(origin);
    const tree = new InMemoryTree();
    for (let i = 0; i < 77; i++) tree.append(Buffer.from(`entry ${i}`));
    const note = signCheckpoint({ origin, size: 77, rootHash: tree.root(), extensions: [] }, parseSignerKey(keys.signerKey));
    const r = run(note, keys.verifierKey);
    assert.equal(r.status, 0, r.stderr);
    const keyId = keys.verifierKey.split('+')[1];
    assert.equal(r.stdout, `${origin}\n77\n${Buffer.from(tree.root()).toString('base64')}\nverified ${origin} ${keyId}\n`);
    const tampered = run(note.replace('\n77\n', '\n78\n'), keys.verifierKey);
    assert.equal(tampered.status, 1);
    assert.match(tampered.stderr, /invalid signature/);
  });

  it('Go accepts the verifier key strings we generate, and we accept Go-formatted ones', () => {
    for (let i = 0; i < 5; i++) {
      const keys = generateSignerKey(`k${i}.example/log`);
      const text = `note ${i}\n`;
      const r = run(sign(text, parseSignerKey(keys.signerKey)), keys.verifierKey);
      assert.equal(r.status, 0, r.stderr);
    }
    // And execFileSync-level sanity: a bad key string is refused by Go too.
    assert.throws(() => execFileSync(goVerifier as string, [G.badVerifierKeys[0] as string], { input: peterNote, stdio: 'pipe' }));
  });
});
