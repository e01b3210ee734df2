// Request bodies: bounded in size before and after decompression, parsed as JSON without
// prototype-poisoning keys.
import { createGunzip } from 'node:zlib';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { invalid, tooLarge } from '../core/errors.ts';

/**
 * Whether body bytes of this request may still be on their way. A request without a body is
 * answered before its parser has marked it complete when the answer is synchronous, so
 * `complete` alone cannot tell an unread upload from a plain GET.
 */
export function bodyUnread(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw tooLarge('BODY_TOO_LARGE', `Request body of ${declared} bytes exceeds the limit of ${limit} bytes`);
  }
  const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase();
  let source: Readable = req;
  if (encoding === 'gzip') source = req.pipe(createGunzip());
  else if (encoding !== 'identity') throw invalid('UNSUPPORTED_ENCODING', `Content-Encoding ${encoding} is not supported`);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of source) {
      size += (chunk as Buffer).length;
      if (size > limit) {
        // Stop reading but keep the socket: the 413 must reach the client (the server closes
        // the connection after answering, see HttpServer).
        if (source !== req) source.destroy();
        req.pause();
        throw tooLarge('BODY_TOO_LARGE', `Request body exceeds the limit of ${limit} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (e) {
    if ((e as { code?: string }).code === 'BODY_TOO_LARGE') throw e;
    throw invalid('BAD_BODY', `Could not read the request body: ${(e as Error).message}`);
  }
  return Buffer.concat(chunks, size);
}

const POISON = new Set(['__proto__', 'constructor', 'prototype']);

export function parseJson(body: Buffer): unknown {
  if (body.length === 0) throw invalid('EMPTY_BODY', 'A JSON body is required');
  try {
    return JSON.parse(body.toString('utf8'), (k, v: unknown) => (POISON.has(k) ? undefined : v));
  } catch (e) {
    throw invalid('MALFORMED_JSON', `The body is not valid JSON: ${(e as Error).message.slice(0, 200)}`);
  }
}

export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  return parseJson(await readBody(req, limit));
}
