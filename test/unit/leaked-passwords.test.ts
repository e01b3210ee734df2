// The HTTP range source runs against a real node:http server on 127.0.0.1 and the directory source
// against a temporary directory: no mocked fetch, no mocked file system.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { isAttestryError } from '../../src/core/errors.ts';
import { assertRefused } from '../support/refusals.ts';
import {
  LeakedPasswordChecker,
  countInRange,
  directoryRangeSource,
  httpRangeSource,
  sha1Range,
  type RangeSource,
} from '../../src/security/passwords/leaked.ts';

// SHA-1("password") = 5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8
const PASSWORD = 'password';
const PREFIX = '5BAA6';
const SUFFIX = '1E4C9B93F3F0682250B6CF8331B7EE68FD8';

/** A range body in the HIBP format: CRLF lines, padding entries with count 0, our suffix optional. */
function rangeBody(entries: Array<[string, number]>, padding = 20): string {
  const lines = entries.map(([suffix, count]) => `${suffix}:${count}`);
  for (let i = 0; i < padding; i++) lines.push(`${createHash('sha1').update(`pad${i}`).digest('hex').toUpperCase().slice(5)}:0`);
  return lines.sort().join('\r\n');
}

const OTHER_SUFFIXES: Array<[string, number]> = [
  ['003D68EB55068C33ACE09247EE4C639306B', 3],
  ['1E2AAA439972480CEC7F16C795BBB429372', 1],
  ['1E3687A61BFCE35F69B7408158101C8E414', 1],
];

async function rejectsWith(promise: Promise<unknown>, code: string, kind: string): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(isAttestryError(e), `expected an AttestryError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.kind, kind);
    return true;
  });
}

describe('sha1Range', () => {
  it('splits the upper-case SHA-1 hex of the password into a 5-character prefix and the rest', () => {
    assert.deepEqual(sha1Range(PASSWORD), { prefix: PREFIX, suffix: SUFFIX });
  });

  it('hashes the UTF-8 bytes as typed, without Unicode normalisation', () => {
    const composed = 'p\u00e4ssw\u00f6rd';
    const decomposed = composed.normalize('NFD');
    const hex = (s: string): string => createHash('sha1').update(Buffer.from(s, 'utf8')).digest('hex').toUpperCase();
    assert.equal(sha1Range(composed).prefix + sha1Range(composed).suffix, hex(composed));
    assert.notEqual(sha1Range(decomposed).suffix, sha1Range(composed).suffix);
    assert.deepEqual(sha1Range(''), { prefix: 'DA39A', suffix: '3EE5E6B4B0D3255BFEF95601890AFD80709' });
  });

  it('refuses a password that is not a string (LEAKED_PASSWORD_INVALID)', () => {
    for (const p of [undefined, null, 12345678, Buffer.from('password')]) {
      assertRefused(() => sha1Range(p as unknown as string), 'LEAKED_PASSWORD_INVALID', 'invalid', String(p));
    }
  });
});

describe('httpRangeSource against a real HTTP server', () => {
  interface Seen { method: string | undefined; url: string | undefined; headers: IncomingHttpHeaders; bodyBytes: number }
  let server: Server;
  let base = '';
  let seen: Seen[] = [];
  let respond: (url: string, res: ServerResponse) => void = (_url, res) => res.end();

  before(async () => {
    server = createServer((req, res) => {
      let bodyBytes = 0;
      req.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, bodyBytes });
        respond(req.url ?? '', res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    seen = [];
    respond = (_url, res) => res.end();
  });

  const serveRange = (body: string | Buffer, status = 200): void => {
    respond = (_url, res) => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(body);
    };
  };

  it('sends only the prefix, with Add-Padding, and finds the leaked count', async () => {
    serveRange(rangeBody([...OTHER_SUFFIXES, [SUFFIX, 3861493]]));
    const checker = new LeakedPasswordChecker(httpRangeSource(`${base}/range`));
    assert.deepEqual(await checker.check(PASSWORD), { leaked: true, count: 3861493 });
    assert.equal(seen.length, 1);
    const [request] = seen as [Seen];
    assert.equal(request.method, 'GET');
    assert.equal(request.url, `/range/${PREFIX}`);
    assert.equal(request.headers['add-padding'], 'true');
    assert.equal(request.bodyBytes, 0);
    assert.ok(!JSON.stringify(request).includes(SUFFIX.slice(0, 6)), 'nothing of the suffix leaves the process');
  });

  it('matches suffixes written in lower case and LF-only bodies', () => {
    serveRange(`${OTHER_SUFFIXES.map(([s, c]) => `${s}:${c}`).join('\n')}\n${SUFFIX.toLowerCase()}:12\n`);
    return new LeakedPasswordChecker(httpRangeSource(base)).check(PASSWORD).then((r) => assert.deepEqual(r, { leaked: true, count: 12 }));
  });

  it('a password absent from its range is not leaked', async () => {
    serveRange(rangeBody(OTHER_SUFFIXES));
    assert.deepEqual(await new LeakedPasswordChecker(httpRangeSource(base)).check(PASSWORD), { leaked: false, count: 0 });
  });

  it('an empty range is not leaked', async () => {
    serveRange('');
    assert.deepEqual(await new LeakedPasswordChecker(httpRangeSource(base)).check(PASSWORD), { leaked: false, count: 0 });
  });

  it('a padding entry (count 0) for the suffix does not count', async () => {
    serveRange(rangeBody([...OTHER_SUFFIXES, [SUFFIX, 0]]));
    assert.deepEqual(await new LeakedPasswordChecker(httpRangeSource(base)).check(PASSWORD), { leaked: false, count: 0 });
  });

  it('minCount sets how many sightings make a password leaked', async () => {
    serveRange(rangeBody([[SUFFIX, 3]]));
    assert.deepEqual(await new LeakedPasswordChecker(httpRangeSource(base), { minCount: 10 }).check(PASSWORD), { leaked: false, count: 3 });
    assert.deepEqual(await new LeakedPasswordChecker(httpRangeSource(base), { minCount: 3 }).check(PASSWORD), { leaked: true, count: 3 });
  });

  it('joins the base URL and the prefix with exactly one slash, and names the source without secrets', async () => {
    serveRange('');
    for (const url of [`${base}/range/`, `${base}/range//`, `${base}/range`]) {
      const source = httpRangeSource(url);
      assert.equal(source.name, `${base}/range`);
      await source.range(PREFIX);
    }
    assert.deepEqual(seen.map((s) => s.url), Array(3).fill(`/range/${PREFIX}`));
    await httpRangeSource(base).range(PREFIX);
    assert.equal(seen.at(-1)?.url, `/${PREFIX}`);
  });

  it('uses the fetch it is given', async () => {
    serveRange(rangeBody([[SUFFIX, 2]]));
    const urls: string[] = [];
    const fetchImpl: typeof fetch = (input, init) => {
      urls.push(String(input));
      return fetch(input, init);
    };
    assert.deepEqual(await new LeakedPasswordChecker(httpRangeSource(base, { fetchImpl })).check(PASSWORD), { leaked: true, count: 2 });
    assert.deepEqual(urls, [`${base}/${PREFIX}`]);
  });

  it('any status but 200 is unavailable (LEAKED_SOURCE_STATUS)', async () => {
    for (const status of [201, 204, 304, 404, 429, 500, 503]) {
      respond = (_url, res) => {
        res.writeHead(status);
        res.end(status === 204 || status === 304 ? undefined : rangeBody([[SUFFIX, 5]]));
      };
      await rejectsWith(httpRangeSource(base).range(PREFIX), 'LEAKED_SOURCE_STATUS', 'unavailable');
      assert.equal(await new LeakedPasswordChecker(httpRangeSource(base)).check(PASSWORD), 'unavailable', String(status));
    }
  });

  it('a body that is not a range is unavailable, never "not leaked" (LEAKED_SOURCE_MALFORMED)', async () => {
    const bodies = [
      '<html><body>Service Unavailable</body></html>',
      `${rangeBody(OTHER_SUFFIXES)}\r\nnot a line`,
      SUFFIX,
      `${SUFFIX}:`,
      `${SUFFIX}:-1`,
      `${SUFFIX}:1.5`,
      `${SUFFIX}: 5`,
      `${SUFFIX.slice(1)}:5`,
      `${SUFFIX}0:5`,
      `${PREFIX}${SUFFIX}:5`,
      `${SUFFIX}:5:6`,
      `${SUFFIX.replace('E', 'G')}:5`,
      `${SUFFIX}:${'9'.repeat(16)}`,
    ];
    for (const body of bodies) {
      assertRefused(() => countInRange(body, SUFFIX), 'LEAKED_SOURCE_MALFORMED', 'unavailable', body.slice(0, 40));
      serveRange(body);
      assert.equal(await new LeakedPasswordChecker(httpRangeSource(base)).check(PASSWORD), 'unavailable', body.slice(0, 40));
    }
  });

  it('a body that is not UTF-8 is unavailable (LEAKED_SOURCE_MALFORMED)', async () => {
    serveRange(Buffer.from([0x31, 0xff, 0xfe, 0x3a, 0x30]));
    await rejectsWith(httpRangeSource(base).range(PREFIX), 'LEAKED_SOURCE_MALFORMED', 'unavailable');
    assert.equal(await new LeakedPasswordChecker(httpRangeSource(base)).check(PASSWORD), 'unavailable');
  });

  it('a body larger than any real range is cut off (LEAKED_SOURCE_TOO_LARGE)', async () => {
    respond = (_url, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const line = Buffer.from(`${OTHER_SUFFIXES[0]?.[0] as string}:1\r\n`);
      const chunk = Buffer.concat(Array<Buffer>(1024).fill(line));
      let sent = 0;
      const pump = (): void => {
        while (sent < 5 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('error', () => undefined);
      pump();
    };
    await rejectsWith(httpRangeSource(base).range(PREFIX), 'LEAKED_SOURCE_TOO_LARGE', 'unavailable');
    assert.equal(await new LeakedPasswordChecker(httpRangeSource(base)).check(PASSWORD), 'unavailable');
  });

  it('a server that does not answer in time is unavailable (LEAKED_SOURCE_TIMEOUT)', async () => {
    respond = () => undefined; // never answers
    await rejectsWith(httpRangeSource(base, { timeoutMs: 100 }).range(PREFIX), 'LEAKED_SOURCE_TIMEOUT', 'unavailable');
    assert.equal(await new LeakedPasswordChecker(httpRangeSource(base, { timeoutMs: 100 })).check(PASSWORD), 'unavailable');
  });

  it('a server that stalls in the middle of the body is unavailable (LEAKED_SOURCE_TIMEOUT)', async () => {
    respond = (_url, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write(`${SUFFIX}:5\r\n`); // and never ends
    };
    const started = Date.now();
    await rejectsWith(httpRangeSource(base, { timeoutMs: 150 }).range(PREFIX), 'LEAKED_SOURCE_TIMEOUT', 'unavailable');
    assert.ok(Date.now() - started < 2000);
  });

  it('a server that cannot be reached is unavailable (LEAKED_SOURCE_UNREACHABLE)', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await rejectsWith(httpRangeSource(`http://127.0.0.1:${port}`).range(PREFIX), 'LEAKED_SOURCE_UNREACHABLE', 'unavailable');
    assert.equal(await new LeakedPasswordChecker(httpRangeSource(`http://127.0.0.1:${port}`)).check(PASSWORD), 'unavailable');
  });

  it('refuses a prefix that is not 5 upper-case hex characters, without a request', async () => {
    for (const prefix of ['5baa6', '5BAA', '5BAA61', '', '../..', 'GGGGG', '5BAA6/', '5BAA6?x', ' 5BAA6', '%2e%2e']) {
      await rejectsWith(httpRangeSource(base).range(prefix), 'LEAKED_RANGE_PREFIX_INVALID', 'invalid');
    }
    assert.equal(seen.length, 0);
  });

  it('refuses a base URL that is not plain http(s) (LEAKED_SOURCE_URL_INVALID)', () => {
    for (const url of ['', 'not a url', '/relative/path', 'ftp://127.0.0.1/range', 'file:///etc/passwd', 'http://user:pass@127.0.0.1/range', 'http://user@127.0.0.1/', 'http://127.0.0.1/range?x=1', 'http://127.0.0.1/range#frag', 'javascript:alert(1)']) {
      assertRefused(() => httpRangeSource(url), 'LEAKED_SOURCE_URL_INVALID', 'invalid', url);
    }
  });

  it('refuses a timeout that is not a positive integer (LEAKED_SOURCE_TIMEOUT_INVALID)', () => {
    for (const timeoutMs of [0, -1, 1.5, NaN, Infinity]) {
      assertRefused(() => httpRangeSource(base, { timeoutMs }), 'LEAKED_SOURCE_TIMEOUT_INVALID', 'invalid', String(timeoutMs));
    }
  });
});

describe('directoryRangeSource', () => {
  let dir = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attestry-ranges-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir);
  });

  it('reads <PREFIX>.txt', async () => {
    await writeFile(join(dir, `${PREFIX}.txt`), rangeBody([...OTHER_SUFFIXES, [SUFFIX, 42]]));
    assert.deepEqual(await new LeakedPasswordChecker(directoryRangeSource(dir)).check(PASSWORD), { leaked: true, count: 42 });
  });

  it('reads <PREFIX> without an extension', async () => {
    await writeFile(join(dir, PREFIX), rangeBody([[SUFFIX, 7]]));
    assert.deepEqual(await new LeakedPasswordChecker(directoryRangeSource(dir)).check(PASSWORD), { leaked: true, count: 7 });
  });

  it('prefers <PREFIX>.txt when both exist', async () => {
    await writeFile(join(dir, `${PREFIX}.txt`), rangeBody([[SUFFIX, 1]]));
    await writeFile(join(dir, PREFIX), rangeBody([[SUFFIX, 99]]));
    assert.deepEqual(await new LeakedPasswordChecker(directoryRangeSource(dir)).check(PASSWORD), { leaked: true, count: 1 });
  });

  it('a missing range file is an empty range: not leaked', async () => {
    await writeFile(join(dir, '00000.txt'), rangeBody([[SUFFIX, 5]]));
    assert.equal(await directoryRangeSource(dir).range(PREFIX), '');
    assert.deepEqual(await new LeakedPasswordChecker(directoryRangeSource(dir)).check(PASSWORD), { leaked: false, count: 0 });
  });

  it('a password absent from its range file is not leaked', async () => {
    await writeFile(join(dir, `${PREFIX}.txt`), rangeBody(OTHER_SUFFIXES));
    assert.deepEqual(await new LeakedPasswordChecker(directoryRangeSource(dir)).check(PASSWORD), { leaked: false, count: 0 });
  });

  it('a missing directory, or a file in its place, is unavailable (LEAKED_SOURCE_MISSING)', async () => {
    await rejectsWith(directoryRangeSource(join(dir, 'nope')).range(PREFIX), 'LEAKED_SOURCE_MISSING', 'unavailable');
    await writeFile(join(dir, 'file'), 'x');
    await rejectsWith(directoryRangeSource(join(dir, 'file')).range(PREFIX), 'LEAKED_SOURCE_MISSING', 'unavailable');
    assert.equal(await new LeakedPasswordChecker(directoryRangeSource(join(dir, 'nope'))).check(PASSWORD), 'unavailable');
  });

  it('a range "file" that is a directory is unavailable (LEAKED_SOURCE_UNREADABLE)', async () => {
    await mkdir(join(dir, `${PREFIX}.txt`));
    await rejectsWith(directoryRangeSource(dir).range(PREFIX), 'LEAKED_SOURCE_UNREADABLE', 'unavailable');
  });

  it('a range file that cannot be opened (a symlink loop) is unavailable (LEAKED_SOURCE_UNREADABLE)', async () => {
    await symlink(`${PREFIX}.txt`, join(dir, `${PREFIX}.txt`));
    await rejectsWith(directoryRangeSource(dir).range(PREFIX), 'LEAKED_SOURCE_UNREADABLE', 'unavailable');
    assert.equal(await new LeakedPasswordChecker(directoryRangeSource(dir)).check(PASSWORD), 'unavailable');
  });

  it('an unreadable range file is unavailable (LEAKED_SOURCE_UNREADABLE)', { skip: process.getuid?.() === 0 ? 'root reads any file' : false }, async () => {
    await writeFile(join(dir, `${PREFIX}.txt`), rangeBody([[SUFFIX, 5]]));
    await chmod(join(dir, `${PREFIX}.txt`), 0o000);
    await rejectsWith(directoryRangeSource(dir).range(PREFIX), 'LEAKED_SOURCE_UNREADABLE', 'unavailable');
  });

  it('a range file larger than any real range is unavailable (LEAKED_SOURCE_TOO_LARGE)', async () => {
    await writeFile(join(dir, `${PREFIX}.txt`), '');
    await truncate(join(dir, `${PREFIX}.txt`), 4 * 1024 * 1024 + 1);
    await rejectsWith(directoryRangeSource(dir).range(PREFIX), 'LEAKED_SOURCE_TOO_LARGE', 'unavailable');
  });

  it('a malformed range file is unavailable', async () => {
    await writeFile(join(dir, `${PREFIX}.txt`), `${SUFFIX}\n`);
    assert.equal(await new LeakedPasswordChecker(directoryRangeSource(dir)).check(PASSWORD), 'unavailable');
    await writeFile(join(dir, `${PREFIX}.txt`), Buffer.from([0xff, 0xfe]));
    await rejectsWith(directoryRangeSource(dir).range(PREFIX), 'LEAKED_SOURCE_MALFORMED', 'unavailable');
  });

  it('refuses a prefix that is not 5 upper-case hex characters: no path traversal', async () => {
    await writeFile(join(dir, 'secret'), `${SUFFIX}:1`);
    for (const prefix of ['../secret', '..', 'secre', '5baa6', '/etc/passwd', '5BAA6/../secret', '']) {
      await rejectsWith(directoryRangeSource(dir).range(prefix), 'LEAKED_RANGE_PREFIX_INVALID', 'invalid');
    }
  });

  it('refuses an empty directory setting (LEAKED_SOURCE_DIRECTORY_INVALID)', () => {
    for (const d of ['', undefined, null]) assertRefused(() => directoryRangeSource(d as unknown as string), 'LEAKED_SOURCE_DIRECTORY_INVALID', 'invalid', String(d));
  });
});

describe('LeakedPasswordChecker', () => {
  it('with no source, nothing is leaked', async () => {
    const checker = new LeakedPasswordChecker(null);
    assert.equal(checker.sourceName, null);
    assert.deepEqual(await checker.check(PASSWORD), { leaked: false, count: 0 });
  });

  it('gives the source nothing but the prefix', async () => {
    const asked: unknown[] = [];
    const source: RangeSource = { name: 'recording', range: (...args: unknown[]) => (asked.push(args), Promise.resolve('')) };
    const checker = new LeakedPasswordChecker(source);
    assert.equal(checker.sourceName, 'recording');
    await checker.check(PASSWORD);
    assert.deepEqual(asked, [[PREFIX]]);
  });

  it('any source failure is "unavailable", never an exception and never "not leaked"', async () => {
    const failing: RangeSource[] = [
      { name: 'rejects', range: () => Promise.reject(new Error('boom')) },
      { name: 'throws', range: () => { throw new Error('sync boom'); } },
      { name: 'rejects with nothing', range: () => Promise.reject(undefined) },
      { name: 'not a string', range: () => Promise.resolve(42 as unknown as string) },
    ];
    for (const source of failing) assert.equal(await new LeakedPasswordChecker(source).check(PASSWORD), 'unavailable', source.name);
  });

  it('refuses a minCount that is not a positive integer (LEAKED_MIN_COUNT_INVALID)', () => {
    for (const minCount of [0, -1, 1.5, NaN, Infinity]) {
      assertRefused(() => new LeakedPasswordChecker(null, { minCount }), 'LEAKED_MIN_COUNT_INVALID', 'invalid', String(minCount));
    }
  });

  it('refuses a password that is not a string, whatever the source', async () => {
    for (const checker of [new LeakedPasswordChecker(null), new LeakedPasswordChecker({ name: 'x', range: () => Promise.resolve('') })]) {
      await rejectsWith(checker.check(undefined as unknown as string), 'LEAKED_PASSWORD_INVALID', 'invalid');
    }
  });
});
