// What the unmodified npm CLI needs to run `npm publish --provenance` offline: npm has the
// public-good Sigstore URLs built in, so the test gives it a CONNECT proxy that tunnels exactly
// those host names into an in-process https server (throwaway TLS CA) answering with the SAME
// mock Fulcio/Rekor/TSA as `services` — bundles npm makes verify against services.trustedRoot.
// Everything else is refused and recorded, so a test can prove nothing left the machine.
// Recipe: ../shared/specs/sigstore.md, "Bonus: the unmodified npm CLI publishing with provenance".
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTlsMaterial } from './sigstore-tls.ts';
import { serve } from './sigstore-http.ts';
import type { SigstoreServices } from './sigstore-services.ts';

export { githubActionsEnv } from './sigstore-identity.ts';

/** The Sigstore hosts npm 11 calls while signing (timestamp.* only if a TSA is configured). */
export const SIGSTORE_HOSTS: readonly string[] = ['fulcio.sigstore.dev', 'rekor.sigstore.dev', 'timestamp.sigstore.dev'];

export interface NpmSigstoreEnvironment {
  /** HTTPS_PROXY, https_proxy, HTTP_PROXY, http_proxy, NO_PROXY, no_proxy (127.0.0.1,localhost), NODE_EXTRA_CA_CERTS — merge with the OIDC issuer's actionsEnv(...) and the GITHUB_* variables. */
  env: Record<string, string>;
  /** CONNECT targets seen (`host:port`). */
  connects: string[];
  /** CONNECT targets refused, and absolute-URL requests made to the proxy as plain HTTP. */
  refused: string[];
  close(): Promise<void>;
}

export async function startNpmSigstoreEnvironment(services: SigstoreServices, dir: string): Promise<NpmSigstoreEnvironment> {
  mkdirSync(dir, { recursive: true });
  const tls = await createTlsMaterial(SIGSTORE_HOSTS);
  const caFile = path.join(dir, 'sigstore-tls-ca.pem');
  writeFileSync(caFile, tls.caPem);

  const connects: string[] = [];
  const refused: string[] = [];
  const sockets = new Set<Duplex>();
  const track = (s: Duplex) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    // A peer hanging up mid-tunnel is normal for a proxy; never let it crash the test process.
    s.on('error', () => s.destroy());
  };

  // Never listens: tunnelled sockets are handed to it directly, so it has no port to leak to.
  const tlsServer = https.createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    serve(req, res, services.handle);
  });
  tlsServer.on('tlsClientError', (_err, s) => s.destroy());

  const proxy = http.createServer((req, res) => {
    // Only reached by plain-HTTP proxying (HTTP_PROXY): no http:// destination is allowed.
    refused.push(req.url ?? '');
    res.writeHead(403, { 'content-type': 'text/plain' }).end('refused by the test proxy\n');
  });
  proxy.on('connect', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    track(socket);
    const target = req.url ?? '';
    connects.push(target);
    const m = /^([^:]+):(\d+)$/.exec(target);
    if (!m || m[2] !== '443' || !SIGSTORE_HOSTS.includes((m[1] ?? '').toLowerCase())) {
      refused.push(target);
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) socket.unshift(head);
    tlsServer.emit('connection', socket as Socket);
  });
  proxy.on('clientError', (_err, s) => s.destroy());
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const noProxy = '127.0.0.1,localhost';

  return {
    env: {
      HTTPS_PROXY: proxyUrl,
      https_proxy: proxyUrl,
      HTTP_PROXY: proxyUrl,
      http_proxy: proxyUrl,
      NO_PROXY: noProxy,
      no_proxy: noProxy,
      NODE_EXTRA_CA_CERTS: caFile,
    },
    connects,
    refused,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      proxy.closeAllConnections();
      proxy.close(() => resolve());
    }),
  };
}
