// The HTTP side shared by the loopback (http) and the npm-facing (https) front-ends of the
// local Sigstore services: read a bounded body, answer through one handler.
import type http from 'node:http';

export interface SigstoreResponse {
  status: number;
  contentType: string;
  body: Buffer;
}

/** Answers one service request (`path` as requested, e.g. '/api/v2/signingCert'; `host` for the request log). */
export type SigstoreHandle = (path: string, body: string, host: string) => Promise<SigstoreResponse>;

const MAX_BODY = 1024 * 1024;

/** Reads a bounded body and answers through `handle`; shared by the http and https front-ends. */
export function serve(req: http.IncomingMessage, res: http.ServerResponse, handle: SigstoreHandle): void {
  const chunks: Buffer[] = [];
  let size = 0;
  // A client hanging up mid-request must not take the test process down.
  req.on('error', () => res.destroy());
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > MAX_BODY) {
      res.writeHead(413).end();
      req.destroy();
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (res.headersSent) return;
    handle(req.url ?? '/', Buffer.concat(chunks).toString('utf8'), String(req.headers.host ?? '')).then((r) => {
      res.writeHead(r.status, { 'content-type': r.contentType, 'content-length': r.body.length });
      res.end(r.body);
    }, () => {
      res.writeHead(500).end();
    });
  });
}
