// Local Sigstore services for tests: @sigstore/mock's Fulcio (with CT log), Rekor v1 and TSA
// behind one loopback HTTP server, the trusted_root.json for their keys, and real provenance
// bundles made with @sigstore/sign exactly as npm makes them. Recipe and reasons:
// ../shared/specs/sigstore.md, "Recipe: make test bundles offline". The mock's nock-based
// helpers are deliberately not used: they patch http globally and do not reach child processes.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fulcioHandler, initializeCA, initializeCTLog, initializeTLog, initializeTSA, rekorHandler, tsaHandler } from '@sigstore/mock';
import type { HandlerFn } from '@sigstore/mock';
import { DSSEBundleBuilder, FulcioSigner, RekorWitness, TSAWitness } from '@sigstore/sign';
import type { Witness } from '@sigstore/sign';
import { bundleToJSON } from '@sigstore/bundle';
import { decodeJwt } from 'jose';
import { githubClaims, npmProvenanceStatement, npmSubjectName, GITHUB_SERVER_URL } from './sigstore-identity.ts';
import type { GithubIdentity } from './sigstore-identity.ts';
import { buildTrustedRoot } from './sigstore-trusted-root.ts';
import { serve } from './sigstore-http.ts';
import type { SigstoreHandle, SigstoreResponse } from './sigstore-http.ts';

export { githubClaims, githubActionsEnv, npmProvenanceStatement, npmSubjectName, GITHUB_ISSUER, SLSA_PROVENANCE_V1 } from './sigstore-identity.ts';
export type { GithubIdentity } from './sigstore-identity.ts';
export type { SigstoreHandle, SigstoreResponse } from './sigstore-http.ts';
export { startNpmSigstoreEnvironment } from './sigstore-proxy.ts';
export type { NpmSigstoreEnvironment } from './sigstore-proxy.ts';

/**
 * Rekor's host name as the checkpoint names it. The npm CLI reaches Rekor under this name (see
 * sigstore-proxy.ts); the verifier only requires the checkpoint's signer name to appear in the
 * trusted log's baseUrl, so one log serves both the loopback URL and the npm route.
 */
export const REKOR_BASE_URL = 'https://rekor.sigstore.dev';

export interface ProvenanceOptions {
  name: string;
  version: string;
  tarball: Buffer;
  identity?: GithubIdentity;
  /** Override to test refusals. */
  predicateType?: string;
  /** Override subjects (default: the one npm writes). */
  subjects?: Array<{ name: string; digest: Record<string, string> }>;
  /** Also an RFC 3161 timestamp; default false. */
  tsa?: boolean;
}

export interface SigstoreServices {
  /** http://127.0.0.1:<port> serving the mock Fulcio (/api/v2/signingCert), Rekor v1 (/api/v1/log/entries, with the dsse shim), TSA (/api/v1/timestamp). */
  url: string;
  /** The trusted_root.json (object) for these services' keys, valid from a little before start. */
  trustedRoot: Record<string, unknown>;
  /** Writes trustedRoot to a file and returns the path (for the registry's config). */
  writeTrustedRoot(dir: string): string;
  /** A v0.3 provenance bundle (JSON text), SLSA v1 predicate by default, exactly like npm's: DSSE in-toto statement, subject pkg:npm/<name>@<version> (scope '@' as %40) with sha512 of `tarball`. */
  provenanceBundle(opts: ProvenanceOptions): Promise<string>;
  /** Answers one service request (`path` as requested, e.g. '/api/v2/signingCert'); every front-end shares it. */
  handle: SigstoreHandle;
  /** `<host><path>` of every request served, by any front-end. */
  requests: string[];
  close(): Promise<void>;
}

/** An alg-none JWT: the mock Fulcio decodes tokens without verifying them. */
function unsignedJwt(claims: Record<string, unknown>): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ aud: 'sigstore', iat: now, exp: now + 300, ...claims })}.`;
}

/**
 * Real Rekor stores a dsse entry in canonical form (hashes, not the envelope); the mock logs the
 * proposed entry verbatim, which the verifier then refuses ("signature count mismatch").
 */
function canonicalRekorEntry(body: string): string {
  let entry: { kind?: unknown; spec?: { proposedContent?: { envelope?: unknown; verifiers?: unknown } } };
  try {
    entry = JSON.parse(body) as typeof entry;
  } catch {
    return body;
  }
  const proposed = entry.spec?.proposedContent;
  if (entry.kind !== 'dsse' || typeof proposed?.envelope !== 'string' || !Array.isArray(proposed.verifiers)) return body;
  const envelope = JSON.parse(proposed.envelope) as { payload: string; signatures: Array<{ sig: string }> };
  const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
  return JSON.stringify({
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: sha256(proposed.envelope) },
      payloadHash: { algorithm: 'sha256', value: sha256(Buffer.from(envelope.payload, 'base64')) },
      signatures: [{ signature: envelope.signatures[0]?.sig, verifier: proposed.verifiers[0] }],
    },
  });
}

// OIDs the mock's claim mapping leaves out but real Fulcio sets for GitHub tokens.
const OID_DEPLOYMENT_ENVIRONMENT = '1.3.6.1.4.1.57264.1.23';
const OID_TOKEN_SUBJECT = '1.3.6.1.4.1.57264.1.24';

type MockCA = Awaited<ReturnType<typeof initializeCA>>;

/**
 * The mock Fulcio uses the token's `sub` as SAN; real Fulcio uses the (job) workflow URL for
 * GitHub tokens, whose `sub` is `repo:owner/name:ref:…`. Wrap the CA per request so the
 * certificate looks like a real GitHub Actions one.
 */
function githubFulcio(ca: MockCA): HandlerFn {
  const plain = fulcioHandler(ca).fn;
  return async (body) => {
    let claims: Record<string, unknown>;
    try {
      claims = decodeJwt((JSON.parse(body) as { credentials: { oidcIdentityToken: string } }).credentials.oidcIdentityToken);
    } catch {
      return plain(body); // the mock answers 400 with its own reason
    }
    const extra = [
      ...(typeof claims.environment === 'string' ? [{ oid: OID_DEPLOYMENT_ENVIRONMENT, value: claims.environment }] : []),
      ...(typeof claims.sub === 'string' ? [{ oid: OID_TOKEN_SUBJECT, value: claims.sub }] : []),
    ];
    const san = typeof claims.job_workflow_ref === 'string' ? `${GITHUB_SERVER_URL}/${claims.job_workflow_ref}` : undefined;
    const wrapped: MockCA = {
      rootCertificate: ca.rootCertificate,
      issueCertificate: (o) => ca.issueCertificate({ ...o, subjectAltName: san ?? o.subjectAltName, extensions: [...(o.extensions ?? []), ...extra] }),
    };
    return fulcioHandler(wrapped).fn(body);
  };
}

export async function startSigstoreServices(): Promise<SigstoreServices> {
  // Trust starts before any key exists, so nothing these services sign predates it.
  const start = new Date(Date.now() - 60_000);
  const key = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ctlog = await initializeCTLog(key());
  const ca = await initializeCA(key(), ctlog);
  const tlog = await initializeTLog(REKOR_BASE_URL, key());
  // The mock TSA writes GeneralizedTime fractions without trailing zeros ('.12Z'), which
  // @sigstore/core refuses (it wants exactly three digits): about one token in ten failed. Its
  // clock option is read on every request, so it gets a Date moved to "now" before each one,
  // nudged off a trailing zero.
  const tsaClock = new Date();
  const tsa = await initializeTSA(key(), tsaClock);
  const tsaFn = tsaHandler(tsa).fn;
  const rekorFn = rekorHandler(tlog).fn;

  const routes = new Map<string, HandlerFn>([
    ['/api/v2/signingCert', githubFulcio(ca)],
    ['/api/v1/log/entries', (body) => rekorFn(canonicalRekorEntry(body))],
    ['/api/v1/timestamp', (body) => {
      const now = Date.now();
      tsaClock.setTime(now % 10 === 0 ? now + 1 : now);
      return tsaFn(body);
    }],
  ]);
  const requests: string[] = [];

  const handle: SigstoreHandle = async (reqPath, body, host): Promise<SigstoreResponse> => {
    const pathname = new URL(reqPath, 'http://x').pathname;
    requests.push(`${host}${pathname}`);
    const fn = routes.get(pathname);
    if (!fn) return { status: 404, contentType: 'text/plain', body: Buffer.from('not found') };
    try {
      const r = await fn(body);
      const out = typeof r.response === 'string' ? Buffer.from(r.response) : Buffer.from(r.response.buffer, r.response.byteOffset, r.response.byteLength);
      return { status: r.statusCode, contentType: r.contentType ?? 'text/plain', body: out };
    } catch (e) {
      return { status: 500, contentType: 'text/plain', body: Buffer.from(String(e)) };
    }
  };

  const server = http.createServer((req, res) => {
    serve(req, res, handle);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const trustedRoot = buildTrustedRoot({
    caRoot: ca.rootCertificate,
    ctlogKey: ctlog.publicKey,
    ctlogId: ctlog.logID,
    tlogKey: tlog.publicKey,
    tlogBaseUrl: REKOR_BASE_URL,
    tsaChain: [tsa.intCertificate, tsa.rootCertificate],
    start,
  });

  return {
    url,
    trustedRoot,
    writeTrustedRoot(dir) {
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, 'trusted_root.json');
      writeFileSync(file, `${JSON.stringify(trustedRoot, null, 2)}\n`);
      return file;
    },
    async provenanceBundle(o) {
      const subjects = o.subjects ?? [{ name: npmSubjectName(o.name, o.version), digest: { sha512: createHash('sha512').update(o.tarball).digest('hex') } }];
      const statement = npmProvenanceStatement(subjects, o.identity, o.predicateType);
      const token = unsignedJwt(githubClaims(o.identity));
      const witnesses: Witness[] = [new RekorWitness({ rekorBaseURL: url, entryType: 'dsse', retry: 0 })];
      if (o.tsa) witnesses.push(new TSAWitness({ tsaBaseURL: url, retry: 0 }));
      const builder = new DSSEBundleBuilder({
        signer: new FulcioSigner({ fulcioBaseURL: url, retry: 0, identityProvider: { getToken: () => Promise.resolve(token) } }),
        witnesses,
      });
      const bundle = await builder.create({ data: Buffer.from(JSON.stringify(statement)), type: 'application/vnd.in-toto+json' });
      return JSON.stringify(bundleToJSON(bundle));
    },
    handle,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
