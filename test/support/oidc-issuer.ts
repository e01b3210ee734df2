// A local OIDC issuer standing in for a CI provider (the one thing tests may not reach): a real
// HTTP server with a discovery document, a JWKS with real keys, and a GitHub-Actions-style token
// request endpoint. Tokens are really signed; tests choose their claims, and can forge the ways
// an attacker would (other keys, other algorithms, no signature).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload, type KeyObject } from 'jose';

export interface SignOptions {
  /** Defaults to the issuer's current key id. */
  kid?: string;
  alg?: string;
  /** Sign with this key instead of the published one (a forgery). */
  key?: KeyObject | Uint8Array;
  /** Seconds relative to now; defaults: iat now, exp +300. */
  iat?: number;
  exp?: number;
  nbf?: number;
}

export interface LocalIssuer {
  url: string;
  kid: string;
  /** Claims every token gets unless overridden (iss is always the issuer unless overridden). */
  sign(claims: JWTPayload, options?: SignOptions): Promise<string>;
  /** An unsigned token (`alg: none`). */
  unsigned(claims: JWTPayload): string;
  /** The public JWK as published (for HMAC-with-public-key forgeries). */
  publicJwk: JWK;
  /** GitHub Actions' env for `npm publish`: a request URL and token answered with signed tokens. */
  actionsEnv(claims: JWTPayload): Record<string, string>;
  /** Replaces the published keys with a new pair (rotation). */
  rotate(): Promise<void>;
  requests: string[];
  close(): Promise<void>;
}

const now = () => Math.floor(Date.now() / 1000);

/** `path`: the issuer URL's path (CircleCI's issuers are `…/org/<org-id>`). */
export async function startLocalIssuer(options: { path?: string } = {}): Promise<LocalIssuer> {
  let pair = await generateKeyPair('RS256', { extractable: true });
  let kid = randomUUID();
  let jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid, alg: 'RS256', use: 'sig' };
  const requests: string[] = [];
  const actionsTokens = new Map<string, JWTPayload>();
  let url = '';

  const sign = async (claims: JWTPayload, o: SignOptions = {}): Promise<string> => {
    const t = now();
    const jwt = new SignJWT({ jti: randomUUID(), ...claims })
      .setProtectedHeader({ alg: o.alg ?? 'RS256', kid: o.kid ?? kid, typ: 'JWT' })
      .setIssuer((claims.iss as string | undefined) ?? url)
      .setIssuedAt(t + (o.iat ?? 0))
      .setExpirationTime(t + (o.exp ?? 300));
    if (o.nbf !== undefined) jwt.setNotBefore(t + o.nbf);
    return jwt.sign(o.key ?? pair.privateKey);
  };

  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const u = new URL(req.url ?? '/', url);
    const prefix = options.path ?? '';
    if (prefix && u.pathname.startsWith(prefix)) u.pathname = u.pathname.slice(prefix.length) || '/';
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (u.pathname === '/.well-known/openid-configuration') return json(200, { issuer: url, jwks_uri: `${url}/keys`, id_token_signing_alg_values_supported: ['RS256'] });
    if (u.pathname === '/keys') return json(200, { keys: [jwk] });
    if (u.pathname === '/actions/token') {
      const auth = String(req.headers.authorization ?? '');
      const claims = actionsTokens.get(auth.replace(/^Bearer /, ''));
      if (!claims) return json(401, { message: 'bad request token' });
      const audience = u.searchParams.get('audience');
      sign({ ...claims, ...(audience ? { aud: audience } : {}) }).then((value) => json(200, { value, count: 1 }), () => json(500, {}));
      return;
    }
    json(404, { message: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${options.path ?? ''}`;

  return {
    url,
    get kid() {
      return kid;
    },
    get publicJwk() {
      return jwk;
    },
    sign,
    unsigned(claims) {
      const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const t = now();
      return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ iss: url, iat: t, exp: t + 300, jti: randomUUID(), ...claims })}.`;
    },
    actionsEnv(claims) {
      const requestToken = randomBytes(16).toString('hex');
      actionsTokens.set(requestToken, claims);
      return { GITHUB_ACTIONS: 'true', CI: 'true', ACTIONS_ID_TOKEN_REQUEST_URL: `${url}/actions/token?api-version=2.0`, ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken };
    },
    async rotate() {
      pair = await generateKeyPair('RS256', { extractable: true });
      kid = randomUUID();
      jwk = { ...(await exportJWK(pair.publicKey)), kid, alg: 'RS256', use: 'sig' };
    },
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
