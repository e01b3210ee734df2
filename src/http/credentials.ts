// Reads the Authorization header. It yields at most one credential; its value is never logged.
import type { IncomingMessage } from 'node:http';
import { unauthenticated } from '../core/errors.ts';

export type Credential = { kind: 'none' } | { kind: 'bearer'; token: string } | { kind: 'basic'; username: string; password: string };

export function readCredential(req: IncomingMessage): Credential {
  const header = req.headers.authorization;
  if (!header) return { kind: 'none' };
  const space = header.indexOf(' ');
  const scheme = (space === -1 ? header : header.slice(0, space)).toLowerCase();
  const value = space === -1 ? '' : header.slice(space + 1).trim();
  if (scheme === 'bearer' && value) return { kind: 'bearer', token: value };
  if (scheme === 'basic' && value) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  throw unauthenticated('BAD_AUTHORIZATION_HEADER', 'The Authorization header is not a Bearer token or Basic credentials');
}
