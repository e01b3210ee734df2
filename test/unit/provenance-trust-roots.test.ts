// Trusted roots: the embedded public-good copy, validation when built (our check: validFor.start
// everywhere), several roots at once, and key lists.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { isAttestryError } from '../../src/core/errors.ts';
import { TRUST_ROOT_CODES } from '../../src/security/provenance/codes.ts';
import { buildTrustRoots, loadTrustRootFile, publicGoodTrustedRoot, TrustRootError, type TrustRootSource } from '../../src/security/provenance/trust-roots.ts';
import { keysFromKeyList } from '../../src/security/provenance/verification-keys.ts';
import { verifyBundle } from '../../src/security/provenance/verify-bundle.ts';
import { ROOT } from '../support/paths.ts';

const FIXTURES = path.join(ROOT, '..', 'shared', 'fixtures', 'sigstore');
const ROOTS = path.join(FIXTURES, 'trusted-roots');
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- test fixtures are edited freely
const readJson = (file: string): Json => JSON.parse(readFileSync(file, 'utf8')) as Json;
const publicGoodFile = (): Json => readJson(path.join(ROOTS, 'public-good.trusted_root.json'));
const PUBLIC_GOOD: TrustRootSource = { name: 'public-good', json: publicGoodTrustedRoot() };
const STAGING: TrustRootSource = { name: 'staging', json: readJson(path.join(ROOTS, 'staging.trusted_root.json')) };

function rootRefused(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TrustRootError, `expected a TrustRootError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.ok(Object.hasOwn(TRUST_ROOT_CODES, e.code));
    return true;
  });
}

function refused(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isAttestryError(e), `expected a typed refusal, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

/** JSON with object keys sorted, so the comparison does not depend on key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Json)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

describe('the public-good root embedded in @sigstore/tuf', () => {
  it('equals the fixture copy', () => {
    const embedded = publicGoodTrustedRoot();
    assert.deepEqual(embedded, publicGoodFile());
    const digest = (v: unknown): string => createHash('sha256').update(canonical(v)).digest('hex');
    assert.equal(digest(embedded), digest(publicGoodFile()));
  });

  it('is parsed afresh on each call (a caller cannot alter the next one)', () => {
    const first = publicGoodTrustedRoot() as Json;
    first.tlogs = [];
    assert.notDeepEqual((publicGoodTrustedRoot() as Json).tlogs, []);
  });

  it('builds, and the fixture roots build', () => {
    assert.deepEqual(buildTrustRoots([PUBLIC_GOOD, STAGING]).names, ['public-good', 'staging']);
  });
});

describe('several roots: staging bundles', () => {
  const STAGING_DIR = path.join(FIXTURES, 'pypi', 'staging');
  // PEP 740 attestation objects rebuilt as v0.3 bundles (recipe step 8 of ../shared/specs/sigstore.md).
  const fromAttestation = (file: string): Json => {
    const a = readJson(path.join(STAGING_DIR, file));
    return {
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: { certificate: { rawBytes: a.verification_material.certificate }, tlogEntries: a.verification_material.transparency_entries },
      dsseEnvelope: { payload: a.envelope.statement, payloadType: 'application/vnd.in-toto+json', signatures: [{ sig: a.envelope.signature }] },
    };
  };
  const bundles: [string, () => unknown][] = [
    ['rfc8785 .sigstore bundle', () => readFileSync(path.join(STAGING_DIR, 'rfc8785-0.1.2-py3-none-any.whl.sigstore'))],
    ['rfc8785 publish attestation', () => fromAttestation('rfc8785-0.1.2-py3-none-any.whl.publish.attestation')],
    ['spt3g publish attestation', () => fromAttestation('spt3g-1.0-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl.publish.attestation')],
  ];
  const production = buildTrustRoots([PUBLIC_GOOD]);
  const both = buildTrustRoots([PUBLIC_GOOD, STAGING]);
  const bothReversed = buildTrustRoots([STAGING, PUBLIC_GOOD]);

  for (const [label, bundle] of bundles) {
    it(`${label}: refused on production, verified once the staging root is added`, () => {
      refused(() => verifyBundle(bundle() as object, production), 'PROVENANCE_CERTIFICATE_INVALID');
      assert.equal(verifyBundle(bundle() as object, both).trustRoot, 'staging');
      assert.equal(verifyBundle(bundle() as object, bothReversed).trustRoot, 'staging');
    });
  }

  it('the subject of the staging wheel is the wheel', () => {
    const v = verifyBundle(readFileSync(path.join(STAGING_DIR, 'rfc8785-0.1.2-py3-none-any.whl.sigstore')), both);
    const statement = JSON.parse(v.dsse?.payload.toString('utf8') ?? '{}') as Json;
    const wheel = readFileSync(path.join(STAGING_DIR, 'rfc8785-0.1.2-py3-none-any.whl'));
    assert.equal(statement.subject[0].digest.sha256, createHash('sha256').update(wheel).digest('hex'));
    assert.equal(v.identity?.subjectAlternativeName, 'william@yossarian.net');
  });

  it('a production bundle still verifies against production when staging is listed first', () => {
    const v = verifyBundle(readFileSync(path.join(FIXTURES, 'npm', 'sigstore-2.1.0.provenance.v0.3.sigstore.json')), bothReversed);
    assert.equal(v.trustRoot, 'public-good');
  });
});

describe('roots refused when built', () => {
  const mutated = (edit: (root: Json) => void): TrustRootSource => {
    const json = publicGoodFile();
    edit(json);
    return { name: 'edited', json };
  };
  const cases: [string, (root: Json) => void][] = [
    ['a tlog key without validFor.start', (r) => delete r.tlogs[1].publicKey.validFor.start],
    ['a tlog key without validFor', (r) => delete r.tlogs[0].publicKey.validFor],
    ['a CT log without validFor.start', (r) => delete r.ctlogs[1].publicKey.validFor.start],
    ['a Fulcio CA without validFor.start', (r) => delete r.certificateAuthorities[1].validFor.start],
    ['a Fulcio CA with validFor.start null', (r) => void (r.certificateAuthorities[0].validFor.start = null)],
    ['a TSA without validFor.start', (r) => delete r.timestampAuthorities[0].validFor.start],
    ['a validFor.start that is not a time', (r) => void (r.tlogs[0].publicKey.validFor.start = 'yesterday')],
    ['a validity that ends before it starts', (r) => void (r.tlogs[0].publicKey.validFor.end = '2020-01-01T00:00:00Z')],
    ['an unknown media type', (r) => void (r.mediaType = 'application/vnd.dev.sigstore.trustedroot+json;version=9.9')],
    ['no media type', (r) => delete r.mediaType],
    ['a CA certificate that does not parse', (r) => void (r.certificateAuthorities[0].certChain.certificates[0].rawBytes = Buffer.from('not a certificate').toString('base64'))],
    ['a CA with an empty chain', (r) => void (r.certificateAuthorities[0].certChain.certificates = [])],
    ['a tlog key that does not parse', (r) => void (r.tlogs[0].publicKey.rawBytes = Buffer.from('not a key').toString('base64'))],
    ['a tlog key that is not base64', (r) => void (r.tlogs[0].publicKey.rawBytes = '%%%')],
    ['an unknown key type', (r) => void (r.tlogs[0].publicKey.keyDetails = 'ROT13')],
    ['a tlog without logId', (r) => delete r.tlogs[0].logId],
    ['tlogs that are not a list', (r) => void (r.tlogs = { 0: r.tlogs[0] })],
  ];
  for (const [label, edit] of cases) {
    it(label, () => rootRefused(() => buildTrustRoots([PUBLIC_GOOD, mutated(edit)]), 'TRUST_ROOT_INVALID'));
  }

  it('an open validity end written as null is accepted', () => {
    assert.deepEqual(buildTrustRoots([mutated((r) => void (r.tlogs[0].publicKey.validFor.end = null))]).names, ['edited']);
  });

  it('non-objects and no roots at all', () => {
    rootRefused(() => buildTrustRoots([{ name: 'x', json: null }]), 'TRUST_ROOT_INVALID');
    rootRefused(() => buildTrustRoots([{ name: 'x', json: [publicGoodFile()] }]), 'TRUST_ROOT_INVALID');
    rootRefused(() => buildTrustRoots([{ name: 'x', json: 'trusted_root.json' }]), 'TRUST_ROOT_INVALID');
    rootRefused(() => buildTrustRoots([]), 'TRUST_ROOT_NONE');
  });
});

describe('loadTrustRootFile', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'attestry-trust-root-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a root by path, named by its path', () => {
    const file = path.join(ROOTS, 'staging.trusted_root.json');
    const source = loadTrustRootFile(file);
    assert.equal(source.name, file);
    assert.deepEqual(buildTrustRoots([source]).names, [file]);
  });

  it('refuses garbage JSON, a missing file, and a JSON file that is not a root', () => {
    const garbage = path.join(dir, 'garbage.json');
    writeFileSync(garbage, '{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1", tlogs: [');
    rootRefused(() => loadTrustRootFile(garbage), 'TRUST_ROOT_INVALID');
    rootRefused(() => loadTrustRootFile(path.join(dir, 'missing.json')), 'TRUST_ROOT_UNREADABLE');
    const notRoot = path.join(dir, 'keys.json');
    writeFileSync(notRoot, readFileSync(path.join(ROOTS, 'npm-attestation-keys.json')));
    rootRefused(() => buildTrustRoots([loadTrustRootFile(notRoot)]), 'TRUST_ROOT_INVALID');
  });
});

describe('keysFromKeyList', () => {
  const list = (): Json => readJson(path.join(ROOTS, 'npm-attestation-keys.json'));

  it('selects keys by usage', () => {
    assert.equal(keysFromKeyList(list(), 'npm:attestations').size, 2);
    assert.equal(keysFromKeyList(list(), 'npm:signatures').size, 2);
    assert.equal(keysFromKeyList(list(), 'something-else').size, 0);
  });

  it('refuses malformed lists', () => {
    const edited = (edit: (l: Json) => void): Json => {
      const l = list();
      edit(l);
      return l;
    };
    rootRefused(() => keysFromKeyList([], 'npm:attestations'), 'TRUST_KEYS_INVALID');
    rootRefused(() => keysFromKeyList(edited((l) => void (l.keys[1].publicKey.rawBytes = 'AAAA')), 'npm:attestations'), 'TRUST_KEYS_INVALID');
    rootRefused(() => keysFromKeyList(edited((l) => delete l.keys[1].publicKey.validFor.start), 'npm:attestations'), 'TRUST_KEYS_INVALID');
    rootRefused(() => keysFromKeyList(edited((l) => void (l.keys[1].publicKey.validFor.end = 'soon')), 'npm:attestations'), 'TRUST_KEYS_INVALID');
    rootRefused(() => keysFromKeyList(edited((l) => delete l.keys[1].keyId), 'npm:attestations'), 'TRUST_KEYS_INVALID');
  });
});
