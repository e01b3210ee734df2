// The browser-session cookie. HttpOnly (no script reads it), SameSite=Lax (other sites' forms do
// not carry it), Secure whenever the registry is served over https. No Max-Age: the server ends
// sessions (idle and absolute expiry); the browser forgets the cookie when it closes.
export const SESSION_COOKIE = 'attestry_session';

/** Cookie values from a Cookie header; the first of a repeated name wins, malformed pairs are skipped. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const raw of header.split(';')) {
    const part = raw.trim();
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (!out.has(name)) out.set(name, value);
  }
  return out;
}

export function sessionCookie(value: string, secure: boolean): string {
  if (!/^[A-Za-z0-9_-]+$/.test(value)) throw new Error('session cookie values are base64url');
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${secure ? '; Secure' : ''}`;
}
