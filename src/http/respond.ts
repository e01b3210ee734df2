// Writing responses. JSON is always answered with a JSON body (yarn parses every write response).
import type { ServerResponse } from 'node:http';
import { bodyUnread } from './body.ts';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = Buffer.from(JSON.stringify(body));
  // Answering before the request body was read (a refusal): this connection cannot be reused.
  if (bodyUnread(res.req)) headers = { ...headers, connection: 'close' };
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': data.length, 'cache-control': 'no-store', ...headers });
  res.end(data);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType = 'text/plain; charset=utf-8', headers: Record<string, string> = {}): void {
  const data = Buffer.from(text);
  res.writeHead(status, { 'content-type': contentType, 'content-length': data.length, ...headers });
  res.end(data);
}
