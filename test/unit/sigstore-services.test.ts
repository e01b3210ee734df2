// The Sigstore test harness itself: bundles it makes must verify with the real verifier against
// its trusted root (and only against it), carry the chosen identity, and bind the tarball; and
// the unmodified npm CLI must publish with provenance through it without reaching any other host.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { bundleFromJSON } from '@sigstore/bundle';
import { ASN1Obj, X509Certificate } from '@sigstore/core';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { PolicyError, toSignedEntity, toTrustMaterial, Verifier, VerificationError } from '@sigstore/verify';
import { githubActionsEnv, githubClaims, GITHUB_ISSUER, SLSA_PROVENANCE_V1, startNpmSigstoreEnvironment, startSigstoreServices } from '../support/sigstore-services.ts';
import type { GithubIdentity, SigstoreServices } from '../support/sigstore-services.ts';
import { SIGSTORE_HOSTS } from '../support/sigstore-proxy.ts';
import { startLocalIssuer } from '../support/oidc-issuer.ts';
import { NODE } from '../support/paths.ts';

const OID = {
  issuer: '1.3.6.1.4.1.57264.1.8',
  sourceRepo: '1.3.6.1.4.1.57264.1.12',
  sourceRef: '1.3.6.1.4.1.57264.1.14',
  buildConfig: '1.3.6.1.4.1.57264.1.18',
  environment: '1.3.6.1.4.1.57264.1.23',
  tokenSubject: '1.3.6.1.4.1.57264.1.24',
};

interface Statement {
  _type: string;
  predicateType: string;
  subject: Array<{ name: string; digest: Record<string, string> }>;
  predicate: { buildDefinition: { externalParameters: { workflow: { repository: string; path: string; ref: string } } } };
}

interface Verified {
  statement: Statement;
  san: string | undefined;
  ext(oid: string): string | undefined;
  mediaType: string;
  rfc3161Count: number;
}

/** Verifies like the registry will: library verification with an identity policy, then the caller's own reading. */
function verify(bundleText: string, trustedRoot: Record<string, unknown>, policy: { san: string; issuer?: string }): Verified {
  const json = JSON.parse(bundleText) as Record<string, unknown>;
  const bundle = bundleFromJSON(json);
  const verifier = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(trustedRoot)));
  verifier.verify(toSignedEntity(bundle), { subjectAlternativeName: policy.san, extensions: { issuer: policy.issuer ?? GITHUB_ISSUER } });
  assert.equal(bundle.content.$case, 'dsseEnvelope');
  const envelope = bundle.content.$case === 'dsseEnvelope' ? bundle.content.dsseEnvelope : assert.fail('not DSSE');
  assert.equal(envelope.payloadType, 'application/vnd.in-toto+json');
  const material = bundle.verificationMaterial.content;
  assert.equal(material.$case, 'certificate');
  const cert = X509Certificate.parse(Buffer.from(material.$case === 'certificate' ? material.certificate.rawBytes : assert.fail('no certificate')));
  return {
    statement: JSON.parse(envelope.payload.toString('utf8')) as Statement,
    san: cert.subjectAltName,
    // .8 upward are DER UTF8Strings: read the string inside.
    ext: (oid) => {
      const raw = cert.extension(oid)?.value;
      return raw && ASN1Obj.parseBuffer(Buffer.from(raw)).value.toString('utf8');
    },
    mediaType: bundle.mediaType,
    rfc3161Count: bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps.length ?? 0,
  };
}

function verifyError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof VerificationError || e instanceof PolicyError) return e.code;
    throw e;
  }
  return assert.fail('expected verification to fail');
}

const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('hex');
const TARBALL = Buffer.from('not really a tarball, but any bytes are a subject');
const DEFAULT_SAN = 'https://github.com/acme/widget/.github/workflows/release.yml@refs/heads/main';

let services: SigstoreServices;
let scratch: string;

before(async () => {
  services = await startSigstoreServices();
  scratch = mkdtempSync(path.join(os.tmpdir(), 'attestry-sigstore-'));
});
after(async () => {
  await services.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('provenanceBundle', () => {
  it('verifies against trustedRoot, binds the tarball by sha512, and carries the default GitHub identity', async () => {
    const text = await services.provenanceBundle({ name: 'widget', version: '1.2.3', tarball: TARBALL });
    const v = verify(text, services.trustedRoot, { san: DEFAULT_SAN });
    assert.equal(v.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
    assert.equal(v.statement._type, 'https://in-toto.io/Statement/v1');
    assert.equal(v.statement.predicateType, SLSA_PROVENANCE_V1);
    assert.deepEqual(v.statement.subject, [{ name: 'pkg:npm/widget@1.2.3', digest: { sha512: sha512(TARBALL) } }]);
    assert.deepEqual(v.statement.predicate.buildDefinition.externalParameters.workflow, { ref: 'refs/heads/main', repository: 'https://github.com/acme/widget', path: '.github/workflows/release.yml' });
    assert.equal(v.san, DEFAULT_SAN);
    assert.equal(v.ext(OID.issuer), GITHUB_ISSUER);
    assert.equal(v.ext(OID.sourceRepo), 'https://github.com/acme/widget');
    assert.equal(v.ext(OID.buildConfig), DEFAULT_SAN);
    assert.equal(v.ext(OID.tokenSubject), 'repo:acme/widget:ref:refs/heads/main');
    assert.equal(v.ext(OID.environment), undefined);
    assert.equal(v.rfc3161Count, 0);
  });

  it('carries a chosen identity (repository, workflow, tag, environment) and escapes a scope in the subject', async () => {
    const identity: GithubIdentity = { repository: 'other-org/thing', workflowFile: 'publish.yaml', ref: 'refs/tags/v2.0.0', environment: 'npm' };
    const tarball = Buffer.from('scoped');
    const text = await services.provenanceBundle({ name: '@scope/thing', version: '2.0.0', tarball, identity });
    const san = 'https://github.com/other-org/thing/.github/workflows/publish.yaml@refs/tags/v2.0.0';
    const v = verify(text, services.trustedRoot, { san });
    assert.deepEqual(v.statement.subject, [{ name: 'pkg:npm/%40scope/thing@2.0.0', digest: { sha512: sha512(tarball) } }]);
    assert.equal(v.ext(OID.sourceRepo), 'https://github.com/other-org/thing');
    assert.equal(v.ext(OID.sourceRef), 'refs/tags/v2.0.0');
    assert.equal(v.ext(OID.environment), 'npm');
    assert.equal(v.ext(OID.tokenSubject), 'repo:other-org/thing:environment:npm');
    // The same identity, read as the CI token would carry it.
    assert.equal(githubClaims(identity).sub, 'repo:other-org/thing:environment:npm');
    assert.equal(githubActionsEnv(identity).GITHUB_WORKFLOW_REF, 'other-org/thing/.github/workflows/publish.yaml@refs/tags/v2.0.0');
  });

  it('is refused for another identity, and against a trusted root that is not its own', async () => {
    const text = await services.provenanceBundle({ name: 'widget', version: '1.0.0', tarball: TARBALL });
    assert.equal(verifyError(() => verify(text, services.trustedRoot, { san: DEFAULT_SAN.replace('acme', 'evil') })), 'UNTRUSTED_SIGNER_ERROR');
    assert.equal(verifyError(() => verify(text, services.trustedRoot, { san: DEFAULT_SAN, issuer: 'https://other.example' })), 'UNTRUSTED_SIGNER_ERROR');
    const publicGood = JSON.parse(readFileSync(new URL('../../../shared/fixtures/sigstore/trusted-roots/public-good.trusted_root.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    assert.equal(verifyError(() => verify(text, publicGood, { san: DEFAULT_SAN })), 'CERTIFICATE_ERROR');
    const other = await startSigstoreServices();
    try {
      assert.equal(verifyError(() => verify(text, other.trustedRoot, { san: DEFAULT_SAN })), 'CERTIFICATE_ERROR');
    } finally {
      await other.close();
    }
  });

  it('passes overrides through unchanged (predicate type, subjects) and adds an RFC 3161 timestamp on request', async () => {
    const subjects: Array<{ name: string; digest: Record<string, string> }> = [{ name: 'pkg:npm/a@1.0.0', digest: { sha512: '00' } }, { name: 'pkg:npm/b@1.0.0', digest: { sha256: '11' } }];
    const text = await services.provenanceBundle({ name: 'a', version: '1.0.0', tarball: TARBALL, predicateType: 'https://example.test/other', subjects, tsa: true });
    const v = verify(text, services.trustedRoot, { san: DEFAULT_SAN });
    assert.equal(v.statement.predicateType, 'https://example.test/other');
    assert.deepEqual(v.statement.subject, subjects);
    assert.equal(v.rfc3161Count, 1);
  });

  it('writes the trusted root where the registry config can point, and stays fast', async (t) => {
    const file = services.writeTrustedRoot(path.join(scratch, 'trust'));
    const root = TrustedRoot.fromJSON(JSON.parse(readFileSync(file, 'utf8')));
    for (const k of [...root.tlogs, ...root.ctlogs]) assert.ok(k.publicKey?.validFor?.start, 'every key has a start');
    for (const ca of [...root.certificateAuthorities, ...root.timestampAuthorities]) assert.ok(ca.validFor?.start, 'every CA has a start');
    const started = performance.now();
    for (let i = 0; i < 10; i++) await services.provenanceBundle({ name: 'widget', version: `1.0.${i}`, tarball: TARBALL });
    const each = (performance.now() - started) / 10;
    t.diagnostic(`${each.toFixed(1)} ms per bundle`);
    assert.ok(each < 500, `a bundle took ${each} ms`);
  });
});

describe('startNpmSigstoreEnvironment', () => {
  it('tunnels only the Sigstore hosts, to the same services, and refuses and records anything else', async () => {
    const env = await startNpmSigstoreEnvironment(services, path.join(scratch, 'proxy-check'));
    try {
      const proxy = new URL(env.env.HTTPS_PROXY ?? '');
      const connect = (target: string) => new Promise<{ status: number; socket: Socket }>((resolve, reject) => {
        http.request({ host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: target })
          .on('connect', (res, socket) => resolve({ status: res.statusCode ?? 0, socket }))
          .on('error', reject)
          .end();
      });
      const refused = await connect('example.com:443');
      refused.socket.destroy();
      assert.equal(refused.status, 403);
      const sneaky = await connect('fulcio.sigstore.dev:8443');
      sneaky.socket.destroy();
      assert.equal(sneaky.status, 403);
      assert.deepEqual(env.refused, ['example.com:443', 'fulcio.sigstore.dev:8443']);

      const tunnel = await connect('rekor.sigstore.dev:443');
      assert.equal(tunnel.status, 200);
      const ca = readFileSync(env.env.NODE_EXTRA_CA_CERTS ?? '', 'utf8');
      const secure = tls.connect({ socket: tunnel.socket, servername: 'rekor.sigstore.dev', ca });
      await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
      secure.write('GET /nothing-here HTTP/1.1\r\nHost: rekor.sigstore.dev\r\nConnection: close\r\n\r\n');
      const reply = await new Promise<string>((resolve) => {
        let s = '';
        secure.on('data', (c: Buffer) => (s += c.toString()));
        secure.on('close', () => resolve(s));
      });
      assert.match(reply, /^HTTP\/1\.1 404 /);
      assert.ok(services.requests.includes('rekor.sigstore.dev/nothing-here'), services.requests.join(', '));
      assert.deepEqual(env.connects, ['example.com:443', 'fulcio.sigstore.dev:8443', 'rekor.sigstore.dev:443']);
    } finally {
      await env.close();
    }
  });

  it('lets the unmodified npm CLI publish with provenance offline; the bundle verifies and binds the tarball', { timeout: 120_000 }, async () => {
    const name = 'widget';
    const version = '1.2.3';
    const identity: GithubIdentity = { ref: 'refs/tags/v1.2.3' };
    const seen: string[] = [];
    let putBody: Record<string, unknown> | undefined;
    const registry = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push(`${req.method} ${req.url}`);
        const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        if (req.method === 'POST' && req.url === `/-/npm/v1/oidc/token/exchange/package/${name}`) return json(404, { error: 'no trusted publisher' });
        if (req.method === 'GET' && req.url === `/-/package/${name}/visibility`) return json(200, { public: true });
        if (req.method === 'GET' && req.url === `/${name}`) return json(404, { error: 'not found' });
        if (req.method === 'PUT' && req.url === `/${name}`) {
          putBody = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
          return json(200, { ok: true });
        }
        json(404, { error: 'not found' });
      });
    });
    await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve));
    const registryUrl = `http://127.0.0.1:${(registry.address() as AddressInfo).port}/`;
    const issuer = await startLocalIssuer();
    const home = mkdtempSync(path.join(scratch, 'npm-home-'));
    const env = await startNpmSigstoreEnvironment(services, path.join(home, 'tls'));
    try {
      const pkg = mkdtempSync(path.join(home, 'pkg-'));
      writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name, version, repository: { type: 'git', url: 'git+https://github.com/acme/widget.git' } }));
      writeFileSync(path.join(pkg, 'index.js'), 'module.exports = 1;\n');
      const userconfig = path.join(home, '.npmrc');
      writeFileSync(userconfig, [`//${new URL(registryUrl).host}/:_authToken=x`, `cache=${path.join(home, 'cache')}`, 'audit=false', 'fund=false', 'update-notifier=false', ''].join('\n'));
      const childEnv: Record<string, string> = {
        // Node 24 first: npm's shebang picks `node` from PATH.
        PATH: `${path.dirname(NODE)}:${process.env.PATH ?? ''}`,
        HOME: home,
        TMPDIR: os.tmpdir(),
        npm_config_userconfig: userconfig,
        NO_COLOR: '1',
        ...issuer.actionsEnv(githubClaims(identity)),
        ...githubActionsEnv(identity),
        ...env.env,
      };
      const r = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
        const child = spawn('npm', ['publish', '--provenance', '--access', 'public', '--registry', registryUrl], { cwd: pkg, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.stderr.on('data', (c: Buffer) => (out += c.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, out }));
      });
      assert.equal(r.code, 0, r.out);

      const attachments = (putBody?._attachments ?? {}) as Record<string, { data: string; content_type: string }>;
      const tarball = Buffer.from(attachments[`${name}-${version}.tgz`]?.data ?? '', 'base64');
      assert.ok(tarball.length > 0, 'the tarball is attached');
      const provenance = attachments[`${name}-${version}.sigstore`];
      assert.ok(provenance, `a provenance attachment; got ${Object.keys(attachments).join(', ')}`);
      assert.equal(provenance.content_type, 'application/vnd.dev.sigstore.bundle.v0.3+json');
      const v = verify(provenance.data, services.trustedRoot, { san: 'https://github.com/acme/widget/.github/workflows/release.yml@refs/tags/v1.2.3' });
      assert.deepEqual(v.statement.subject, [{ name: `pkg:npm/${name}@${version}`, digest: { sha512: sha512(tarball) } }]);
      assert.equal(v.ext(OID.sourceRepo), 'https://github.com/acme/widget');
      assert.equal(v.ext(OID.sourceRef), 'refs/tags/v1.2.3');

      // Nothing left the machine: every tunnel was to a Sigstore host, none refused, and npm
      // really went through them (not some other route).
      assert.deepEqual(env.refused, []);
      assert.ok(env.connects.length > 0 && env.connects.every((c) => SIGSTORE_HOSTS.some((h) => c === `${h}:443`)), env.connects.join(', '));
      assert.ok(services.requests.includes('fulcio.sigstore.dev/api/v2/signingCert'), services.requests.join(', '));
      assert.ok(services.requests.includes('rekor.sigstore.dev/api/v1/log/entries'), services.requests.join(', '));
      assert.ok(seen.includes(`PUT /${name}`), seen.join(', '));
      assert.ok(issuer.requests.some((u) => u.includes('audience=sigstore')), issuer.requests.join(', '));
    } finally {
      await env.close();
      await issuer.close();
      registry.closeAllConnections();
      await new Promise<void>((resolve) => registry.close(() => resolve()));
    }
  });
});
