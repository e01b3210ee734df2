import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair } from 'jose';
import { audiencesFor, checkIssuerEntries, OidcVerifier, OIDC_CLOCK_LEEWAY_SECONDS } from '../../src/security/oidc/verifier.ts';
import { isAttestryError } from '../../src/core/errors.ts';
import type { Logger } from '../../src/core/logger.ts';
import { startLocalIssuer, type LocalIssuer } from '../support/oidc-issuer.ts';

const warnings: string[] = [];
const log: Logger = { debug() {}, info() {}, warn: (m) => void warnings.push(m), error() {}, debugEnabled: false };
const AUD = 'npm:registry.test';

let issuer: LocalIssuer;
let other: LocalIssuer;
let verifier: OidcVerifier;

before(async () => {
  issuer = await startLocalIssuer();
  other = await startLocalIssuer();
  verifier = new OidcVerifier({ issuers: [{ provider: 'github', issuer: issuer.url, insecureForTesting: true }], audiences: audiencesFor('http://registry.test:4873'), log });
});
after(async () => {
  await issuer.close();
  await other.close();
});

async function refusedWith(token: string | Promise<string>, code: string, v: OidcVerifier = verifier): Promise<string> {
  try {
    await v.verify(await token);
  } catch (e) {
    assert.ok(isAttestryError(e), `expected a typed refusal, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.kind, 'unauthenticated');
    return e.message;
  }
  assert.fail(`expected ${code}, but the token verified`);
}

describe('OidcVerifier: refusals', () => {
  it('alg none (an unsigned token)', async () => {
    await refusedWith(issuer.unsigned({ aud: AUD }), 'OIDC_ALGORITHM_NOT_ALLOWED');
  });

  it('HS256 signed with the published public key as the HMAC secret', async () => {
    const secret = new TextEncoder().encode(JSON.stringify(issuer.publicJwk));
    await refusedWith(issuer.sign({ aud: AUD }, { alg: 'HS256', key: secret }), 'OIDC_ALGORITHM_NOT_ALLOWED');
  });

  it('an algorithm the provider does not use, even asymmetric (ES256 for GitHub)', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    await refusedWith(issuer.sign({ aud: AUD }, { alg: 'ES256', key: privateKey }), 'OIDC_ALGORITHM_NOT_ALLOWED');
  });

  it('an unknown kid', async () => {
    await refusedWith(issuer.sign({ aud: AUD }, { kid: 'not-a-published-key' }), 'OIDC_UNKNOWN_KEY');
  });

  it('a key from another issuer presented under our issuer\'s kid', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    await refusedWith(issuer.sign({ aud: AUD }, { key: privateKey }), 'OIDC_BAD_SIGNATURE');
  });

  it('a token of an issuer that is not configured', async () => {
    const msg = await refusedWith(other.sign({ aud: AUD }), 'OIDC_UNKNOWN_ISSUER');
    assert.match(msg, /trustedPublishing\.issuers/);
  });

  it('a token of another issuer that claims to be ours (signed with the other issuer\'s key)', async () => {
    await refusedWith(other.sign({ aud: AUD, iss: issuer.url }, { kid: issuer.kid }), 'OIDC_BAD_SIGNATURE');
  });

  it('expired beyond the leeway', async () => {
    await refusedWith(issuer.sign({ aud: AUD }, { iat: -600, exp: -(OIDC_CLOCK_LEEWAY_SECONDS + 5) }), 'OIDC_TOKEN_EXPIRED');
  });

  it('nbf in the future beyond the leeway', async () => {
    await refusedWith(issuer.sign({ aud: AUD }, { nbf: OIDC_CLOCK_LEEWAY_SECONDS + 60 }), 'OIDC_TOKEN_NOT_YET_VALID');
  });

  it('issued too long ago, although not expired', async () => {
    await refusedWith(issuer.sign({ aud: AUD }, { iat: -3600, exp: 600 }), 'OIDC_TOKEN_TOO_OLD');
  });

  it('issued in the future beyond the leeway', async () => {
    await refusedWith(issuer.sign({ aud: AUD }, { iat: OIDC_CLOCK_LEEWAY_SECONDS + 60, exp: 600 }), 'OIDC_TOKEN_NOT_YET_VALID');
  });

  it('a wrong audience, another port, or a list without ours', async () => {
    const msg = await refusedWith(issuer.sign({ aud: 'npm:registry.example' }), 'OIDC_WRONG_AUDIENCE');
    assert.match(msg, /npm:registry\.test/);
    await refusedWith(issuer.sign({ aud: 'npm:registry.test:9999' }), 'OIDC_WRONG_AUDIENCE');
    await refusedWith(issuer.sign({ aud: ['sigstore', 'npm:other'] }), 'OIDC_WRONG_AUDIENCE');
    await refusedWith(issuer.sign({}), 'OIDC_WRONG_AUDIENCE');
  });

  it('no jti from a provider that always sets one', async () => {
    await refusedWith(issuer.sign({ aud: AUD, jti: undefined }), 'OIDC_CLAIM_MISSING');
  });

  it('malformed input', async () => {
    for (const t of ['', 'abc', 'a.b.c', 'x'.repeat(20_000), `${Buffer.from('{}').toString('base64url')}.${Buffer.from('{"aud":"x"}').toString('base64url')}.sig`]) {
      await refusedWith(t, 'OIDC_TOKEN_MALFORMED');
    }
  });

  it('an issuer that cannot be reached is refused, and not asked again at once', async () => {
    const gone = await startLocalIssuer();
    const token = await gone.sign({ aud: AUD });
    await gone.close();
    const v = new OidcVerifier({ issuers: [{ provider: 'gitlab', issuer: gone.url, insecureForTesting: true }], audiences: [AUD], log });
    await refusedWith(token, 'OIDC_ISSUER_UNAVAILABLE', v);
    const msg = await refusedWith(token, 'OIDC_ISSUER_UNAVAILABLE', v);
    assert.match(msg, /recently/);
  });
});

describe('OidcVerifier: acceptance', () => {
  it('a good token: provider, issuer and claims come back', async () => {
    const r = await verifier.verify(await issuer.sign({ aud: AUD, repository: 'acme/widget' }));
    assert.equal(r.provider.id, 'github');
    assert.equal(r.issuer, issuer.url);
    assert.equal(r.claims.repository, 'acme/widget');
  });

  it('the host:port audience yarn sends, and an audience list containing ours', async () => {
    await verifier.verify(await issuer.sign({ aud: 'npm:registry.test:4873' }));
    await verifier.verify(await issuer.sign({ aud: ['sigstore', AUD] }));
  });

  it('expiry and nbf within the leeway', async () => {
    await verifier.verify(await issuer.sign({ aud: AUD }, { iat: -300, exp: -(OIDC_CLOCK_LEEWAY_SECONDS - 10) }));
    await verifier.verify(await issuer.sign({ aud: AUD }, { nbf: OIDC_CLOCK_LEEWAY_SECONDS - 10 }));
  });

  it('fetches discovery and keys once, not per token', async () => {
    const before = issuer.requests.length;
    for (let i = 0; i < 5; i++) await verifier.verify(await issuer.sign({ aud: AUD }));
    assert.equal(issuer.requests.length, before);
  });

  it('warns loudly about a plain-HTTP issuer at construction', () => {
    assert.ok(warnings.some((w) => /INSECURE/.test(w)));
  });
});

describe('default issuers', () => {
  it('the canonical issuer unless the operator marks a self-hosted one as the default; CircleCI has none', () => {
    const v = new OidcVerifier({ issuers: [{ provider: 'gitlab', issuer: 'https://gitlab.internal', default: true }, { provider: 'github', issuer: 'https://ghes.internal/_services/token' }], audiences: [AUD], log });
    assert.equal(v.defaultIssuer('github'), 'https://token.actions.githubusercontent.com');
    assert.equal(v.defaultIssuer('gitlab'), 'https://gitlab.internal');
    assert.equal(v.defaultIssuer('circleci'), undefined);
    assert.equal(v.issuerAccepted('github', 'https://ghes.internal/_services/token'), true);
    assert.equal(v.issuerAccepted('gitlab', 'https://ghes.internal/_services/token'), false);
    assert.equal(v.issuerAccepted('gitlab', 'https://gitlab.com'), true);
  });
});

describe('audiencesFor', () => {
  it('hostname always; host:port only when the public URL names a port', () => {
    assert.deepEqual(audiencesFor('https://registry.example.com'), ['npm:registry.example.com']);
    assert.deepEqual(audiencesFor('https://registry.example.com/npm/'), ['npm:registry.example.com']);
    assert.deepEqual(audiencesFor('http://127.0.0.1:4873'), ['npm:127.0.0.1', 'npm:127.0.0.1:4873']);
  });
});

describe('checkIssuerEntries', () => {
  it('refuses plain HTTP without insecureForTesting, unknown providers, and URLs with extras', () => {
    assert.throws(() => checkIssuerEntries([{ provider: 'github', issuer: 'http://ghes.internal' }]), /insecureForTesting/);
    assert.throws(() => checkIssuerEntries([{ provider: 'github', issuer: 'http://ghes.internal', insecureForTesting: false }]), /insecureForTesting/);
    assert.throws(() => checkIssuerEntries([{ provider: 'jenkins' as 'github', issuer: 'https://ci.internal' }]), /unknown provider/);
    assert.throws(() => checkIssuerEntries([{ provider: 'gitlab', issuer: 'not a url' }]), /not a URL/);
    assert.throws(() => checkIssuerEntries([{ provider: 'gitlab', issuer: 'https://gitlab.internal/?x=1' }]), /bare issuer/);
  });

  it('accepts https issuers and normalises a trailing slash', () => {
    assert.deepEqual(checkIssuerEntries([{ provider: 'gitlab', issuer: 'https://gitlab.internal/' }]), [{ provider: 'gitlab', issuer: 'https://gitlab.internal', insecureForTesting: false, default: false }]);
  });

  it('recognises canonical issuers without configuration, including CircleCI\'s per-organization ones', () => {
    const v = new OidcVerifier({ issuers: [], audiences: [AUD], log });
    assert.equal(v.issuerEntry('https://token.actions.githubusercontent.com')?.provider, 'github');
    assert.equal(v.issuerEntry('https://gitlab.com')?.provider, 'gitlab');
    assert.equal(v.issuerEntry('https://oidc.circleci.com/org/8c8c1e4e-0c1d-4a4e-9c57-4c2c1e2a9b11')?.provider, 'circleci');
    assert.equal(v.issuerEntry('https://oidc.circleci.com/org/'), undefined);
    assert.equal(v.issuerEntry('https://token.actions.githubusercontent.com.evil.example'), undefined);
    assert.equal(v.issuerEntry('https://gitlab.com/'), undefined);
  });
});
