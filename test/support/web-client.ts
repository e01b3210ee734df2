// The account pages over plain HTTP, for tests that need no real browser: one session cookie,
// forms posted with the last CSRF token seen, refusal codes read from the page (`data-code`).
import net from 'node:net';

export interface WebAnswer {
  status: number;
  html: string;
  location: string | null;
  /** The first refusal's stable code (`data-code`), or the JSON `code`. */
  code: string | null;
  setCookie: string[];
  headers: Headers;
}

export class WebClient {
  readonly base: string;
  cookie: string | null = null;
  csrf: string | null = null;

  constructor(base: string) {
    this.base = base;
  }

  private async send(method: string, pathname: string, body?: string, headers: Record<string, string> = {}): Promise<WebAnswer> {
    const res = await fetch(`${this.base}${pathname}`, {
      method, redirect: 'manual', body,
      headers: { ...(this.cookie ? { cookie: `attestry_session=${this.cookie}` } : {}), ...headers },
    });
    const setCookie = res.headers.getSetCookie();
    for (const c of setCookie) {
      const m = /^attestry_session=([^;]*)/.exec(c);
      if (m) this.cookie = m[1] || null;
    }
    const html = await res.text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
    if (csrf) this.csrf = csrf;
    let code = /data-code="([^"]+)"/.exec(html)?.[1] ?? null;
    if (code === null && res.headers.get('content-type')?.startsWith('application/json')) code = (JSON.parse(html) as { code?: string }).code ?? null;
    return { status: res.status, html, location: res.headers.get('location'), code, setCookie, headers: res.headers };
  }

  get(pathname: string): Promise<WebAnswer> {
    return this.send('GET', pathname);
  }

  /** Posts a form; `_csrf` is the last token seen unless the caller names one (or `null` for none). */
  post(pathname: string, fields: Record<string, string>, csrf: string | null | undefined = this.csrf): Promise<WebAnswer> {
    const all = csrf === null ? fields : { _csrf: csrf ?? '', ...fields };
    return this.send('POST', pathname, new URLSearchParams(all).toString(), { 'content-type': 'application/x-www-form-urlencoded' });
  }

  postJson(pathname: string, body: unknown, csrf: string | null): Promise<WebAnswer> {
    return this.send('POST', pathname, JSON.stringify(body), { 'content-type': 'application/json', ...(csrf === null ? {} : { 'x-csrf-token': csrf }) });
  }
}

/** A port nobody uses right now: browser tests must name the public URL (localhost) before the registry starts. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
