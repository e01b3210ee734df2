// Offline: injected resolvers that fail with node:dns's own error codes, and — to prove those are
// the codes node:dns really produces — node:dns itself against a tiny DNS server on 127.0.0.1.
import assert from 'node:assert/strict';
import { BADRESP, CONNREFUSED, FORMERR, NODATA, NOTFOUND, REFUSED, SERVFAIL, TIMEOUT } from 'node:dns';
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isAttestryError } from '../../src/core/errors.ts';
import { assertRefused } from '../support/refusals.ts';
import { checkMailDomain, createMailResolver, mailDomainOf, systemResolver, type MailResolver } from '../../src/security/email/mail-domain.ts';

type Mx = Array<{ exchange: string; priority: number }>;
/** What a fake lookup does: answer, fail with a node:dns error code, or never settle. */
type Answer<T> = T | { fail: string } | 'hang';

const fail = (code: string): { fail: string } => ({ fail: code });

function dnsError(syscall: string, code: string, hostname: string): Error {
  // The shape node:dns rejects with: message, code, syscall, hostname.
  return Object.assign(new Error(`${syscall} ${code} ${hostname}`), { code, syscall, hostname });
}

function answer<T>(a: Answer<T>, syscall: string, hostname: string): Promise<T> {
  if (a === 'hang') return new Promise<T>(() => undefined);
  if (typeof a === 'object' && a !== null && 'fail' in a) return Promise.reject(dnsError(syscall, a.fail, hostname));
  return Promise.resolve(a);
}

interface FakeResolver extends MailResolver {
  asked: string[];
}

function fake(spec: { mx: Answer<Mx>; a?: Answer<string[]>; aaaa?: Answer<string[]> }): FakeResolver {
  const asked: string[] = [];
  const resolver: FakeResolver = {
    asked,
    resolveMx: (d) => (asked.push(`MX ${d}`), answer(spec.mx, 'queryMx', d)),
  };
  if (spec.a !== undefined) resolver.resolve4 = (d) => (asked.push(`A ${d}`), answer(spec.a as Answer<string[]>, 'queryA', d));
  if (spec.aaaa !== undefined) resolver.resolve6 = (d) => (asked.push(`AAAA ${d}`), answer(spec.aaaa as Answer<string[]>, 'queryAaaa', d));
  return resolver;
}

const EMAIL = 'alice@example.org';
const MX: Mx = [{ exchange: 'mx1.example.org', priority: 10 }, { exchange: 'mx2.example.org', priority: 20 }];

describe('checkMailDomain with injected resolvers', () => {
  it('MX records: deliverable, without looking further', async () => {
    const r = fake({ mx: MX, a: fail(NODATA), aaaa: fail(NODATA) });
    assert.equal(await checkMailDomain(EMAIL, r), 'deliverable');
    assert.deepEqual(r.asked, ['MX example.org']);
  });

  it('one real MX among null ones is still deliverable', async () => {
    assert.equal(await checkMailDomain(EMAIL, fake({ mx: [{ exchange: '', priority: 0 }, { exchange: 'mx.example.org', priority: 10 }] })), 'deliverable');
  });

  it('NXDOMAIN (ENOTFOUND): abandoned', async () => {
    const r = fake({ mx: fail(NOTFOUND), a: ['192.0.2.1'], aaaa: ['2001:db8::1'] });
    assert.equal(await checkMailDomain(EMAIL, r), 'abandoned');
    assert.deepEqual(r.asked, ['MX example.org'], 'a name that does not exist has no address either');
  });

  it('a null MX (RFC 7505), as node:dns reports it ("") or spelled ".": abandoned, even with an address', async () => {
    for (const exchange of ['', '.']) {
      const r = fake({ mx: [{ exchange, priority: 0 }], a: ['192.0.2.1'], aaaa: ['2001:db8::1'] });
      assert.equal(await checkMailDomain(EMAIL, r), 'abandoned', JSON.stringify(exchange));
      assert.deepEqual(r.asked, ['MX example.org']);
    }
  });

  it('no MX (ENODATA) but an A or AAAA record: deliverable (implicit MX)', async () => {
    assert.equal(await checkMailDomain(EMAIL, fake({ mx: fail(NODATA), a: ['192.0.2.1'], aaaa: fail(NODATA) })), 'deliverable');
    assert.equal(await checkMailDomain(EMAIL, fake({ mx: fail(NODATA), a: fail(NODATA), aaaa: ['2001:db8::1'] })), 'deliverable');
    assert.equal(await checkMailDomain(EMAIL, fake({ mx: fail(NODATA), a: ['192.0.2.1'], aaaa: fail(SERVFAIL) })), 'deliverable');
    assert.equal(await checkMailDomain(EMAIL, fake({ mx: [], a: ['192.0.2.1'], aaaa: [] })), 'deliverable', 'an empty MX answer');
  });

  it('no MX and no address: abandoned', async () => {
    for (const [a, aaaa] of [[fail(NODATA), fail(NODATA)], [[], []], [fail(NOTFOUND), fail(NODATA)], [fail(NODATA), fail(NOTFOUND)]] as Array<[Answer<string[]>, Answer<string[]>]>) {
      const r = fake({ mx: fail(NODATA), a, aaaa });
      assert.equal(await checkMailDomain(EMAIL, r), 'abandoned', JSON.stringify([a, aaaa]));
      assert.deepEqual(r.asked.sort(), ['A example.org', 'AAAA example.org', 'MX example.org']);
    }
  });

  it('an MX lookup that fails for any other reason: unknown', async () => {
    for (const code of [SERVFAIL, TIMEOUT, REFUSED, CONNREFUSED, BADRESP, FORMERR, 'ECANCELLED', 'EBADNAME', 'ESOMETHINGNEW']) {
      assert.equal(await checkMailDomain(EMAIL, fake({ mx: fail(code), a: ['192.0.2.1'], aaaa: ['2001:db8::1'] })), 'unknown', code);
    }
  });

  it('resolvers that fail strangely: unknown, never an exception', async () => {
    const strange: MailResolver[] = [
      { resolveMx: () => Promise.reject(new Error('no code')) },
      { resolveMx: () => Promise.reject(undefined) },
      { resolveMx: () => Promise.reject(Object.assign(new Error('numeric code'), { code: 3 })) },
      { resolveMx: () => { throw dnsError('queryMx', NOTFOUND, 'example.org'); } },
      { resolveMx: () => Promise.resolve(null as unknown as Mx) },
      { resolveMx: () => Promise.resolve('mx.example.org' as unknown as Mx) },
      { resolveMx: () => Promise.resolve([{ priority: 10 }] as unknown as Mx) },
      { resolveMx: () => Promise.resolve([null] as unknown as Mx) },
    ];
    for (const [i, resolver] of strange.entries()) assert.equal(await checkMailDomain(EMAIL, resolver), i === 3 ? 'abandoned' : 'unknown', String(i));
  });

  it('no MX and an address lookup that fails or times out: unknown', async () => {
    for (const [a, aaaa] of [[fail(SERVFAIL), fail(NODATA)], [fail(NODATA), fail(TIMEOUT)], [fail(REFUSED), fail(SERVFAIL)], ['hang', fail(NODATA)]] as Array<[Answer<string[]>, Answer<string[]>]>) {
      assert.equal(await checkMailDomain(EMAIL, fake({ mx: fail(NODATA), a, aaaa }), { timeoutMs: 50 }), 'unknown', JSON.stringify([a, aaaa]));
    }
  });

  it('a resolver without both address lookups cannot prove there is no address: unknown', async () => {
    assert.equal(await checkMailDomain(EMAIL, fake({ mx: fail(NODATA) })), 'unknown');
    assert.equal(await checkMailDomain(EMAIL, fake({ mx: fail(NODATA), a: fail(NODATA) })), 'unknown');
    assert.equal(await checkMailDomain(EMAIL, fake({ mx: fail(NODATA), aaaa: fail(NODATA) })), 'unknown');
    assert.equal(await checkMailDomain(EMAIL, fake({ mx: fail(NODATA), a: ['192.0.2.1'] })), 'deliverable', 'but can prove there is one');
  });

  it('a lookup that never answers is cut off at timeoutMs: unknown', async () => {
    const started = Date.now();
    assert.equal(await checkMailDomain(EMAIL, fake({ mx: 'hang' }), { timeoutMs: 50 }), 'unknown');
    assert.equal(await checkMailDomain(EMAIL, fake({ mx: fail(NODATA), a: 'hang', aaaa: 'hang' }), { timeoutMs: 50 }), 'unknown');
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
  });

  it('an answer that arrives after the timeout is ignored', async () => {
    const late: MailResolver = { resolveMx: () => new Promise((resolve) => setTimeout(() => resolve(MX), 200)) };
    assert.equal(await checkMailDomain(EMAIL, late, { timeoutMs: 20 }), 'unknown');
    const lateFailure: MailResolver = { resolveMx: () => new Promise((_, reject) => setTimeout(() => reject(dnsError('queryMx', NOTFOUND, 'x')), 50)) };
    assert.equal(await checkMailDomain(EMAIL, lateFailure, { timeoutMs: 10 }), 'unknown');
    await new Promise((resolve) => setTimeout(resolve, 100)); // the late rejection must not surface as unhandled
  });
});

describe('the domain that is checked', () => {
  async function asked(email: string): Promise<string> {
    const r = fake({ mx: MX });
    await checkMailDomain(email, r);
    return (r.asked[0] as string).slice(3);
  }

  it('is the part after the last @, lower-cased, without a root dot', async () => {
    assert.equal(await asked('Alice@Example.ORG'), 'example.org');
    assert.equal(await asked('alice@example.org.'), 'example.org');
    assert.equal(await asked('"a@b"@mail.example.org'), 'mail.example.org');
    assert.equal(mailDomainOf('x@sub.Example.org'), 'sub.example.org');
  });

  it('is looked up in its ASCII (punycode) form', async () => {
    assert.equal(await asked('jörg@bücher.example'), 'xn--bcher-kva.example');
    assert.equal(mailDomainOf('a@XN--BCHER-KVA.example'), 'xn--bcher-kva.example');
  });

  it('refuses an address without a resolvable domain name, before any lookup (MAIL_DOMAIN_INVALID)', async () => {
    const bad = [
      '', 'alice', '@example.org', 'alice@', 'alice@.', 'alice@[192.0.2.1]', 'alice@[IPv6:2001:db8::1]', 'alice@192.0.2.1', 'alice@exa mple.org',
      'alice@-example.org', 'alice@example-.org', 'alice@example..org', 'alice@.example.org', 'alice@ex_ample.org', 'alice@example.org..',
      `alice@${'a'.repeat(64)}.org`, `alice@${Array(64).fill('abc').join('.')}`, `${'a'.repeat(309)}@example.org`, 'alice@exam\nple.org', 'alice@exam\tple.org', 'alice@example.org\r', 'alice@exa\u00a0mple.org', 'alice@example.org/x', 'alice@exa%6dple.org', 'alice@example.org?x', 'alice@example.org#x', 'alice@example.org:25', 'alice@ex\\ample.org', 'alice@b@',
    ];
    for (const email of bad) {
      const r = fake({ mx: MX });
      await assert.rejects(checkMailDomain(email, r), (e: unknown) => isAttestryError(e) && e.code === 'MAIL_DOMAIN_INVALID' && e.kind === 'invalid', JSON.stringify(email));
      assert.deepEqual(r.asked, [], JSON.stringify(email));
    }
    for (const email of [undefined, null, 42, ['alice@example.org']]) {
      assertRefused(() => mailDomainOf(email as unknown as string), 'MAIL_DOMAIN_INVALID', 'invalid', String(email));
    }
    assert.equal(mailDomainOf(`alice@${'a'.repeat(63)}.org`), `${'a'.repeat(63)}.org`, 'control: a 63-character label is fine');
  });

  it('refuses a timeout that is not a positive integer (MAIL_DOMAIN_TIMEOUT_INVALID)', async () => {
    for (const timeoutMs of [0, -1, 1.5, NaN, Infinity]) {
      await assert.rejects(checkMailDomain(EMAIL, fake({ mx: MX }), { timeoutMs }), (e: unknown) => isAttestryError(e) && e.code === 'MAIL_DOMAIN_TIMEOUT_INVALID', String(timeoutMs));
    }
  });
});

/**
 * A DNS server for a handful of names, enough for node:dns: answers MX, A and AAAA questions from a
 * table, NXDOMAIN for unknown names, and SERVFAIL or silence where the table says so.
 */
type Zone = { rcode?: number; drop?: boolean; mx?: Array<[number, string]>; a?: string[]; aaaa?: string[] };

function encodeName(name: string): Buffer {
  const labels = name === '' ? [] : name.split('.');
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')])), Buffer.from([0])]);
}

function record(type: number, rdata: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
  head.writeUInt16BE(type, 2);
  head.writeUInt16BE(1, 4); // IN
  head.writeUInt32BE(60, 6);
  head.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([head, rdata]);
}

function dnsReply(query: Buffer, zones: Record<string, Zone>): Buffer | null {
  let offset = 12;
  const labels: string[] = [];
  while ((query[offset] as number) > 0) {
    const len = query[offset] as number;
    labels.push(query.subarray(offset + 1, offset + 1 + len).toString('ascii').toLowerCase());
    offset += len + 1;
  }
  const qtype = query.readUInt16BE(offset + 1);
  const question = query.subarray(12, offset + 5);
  const zone = zones[labels.join('.')];
  if (zone?.drop) return null;
  const answers: Buffer[] = [];
  if (zone && zone.rcode === undefined) {
    if (qtype === 15) for (const [pref, exchange] of zone.mx ?? []) answers.push(record(15, Buffer.concat([Buffer.from([pref >> 8, pref & 0xff]), encodeName(exchange)])));
    if (qtype === 1) for (const ip of zone.a ?? []) answers.push(record(1, Buffer.from(ip.split('.').map(Number))));
    if (qtype === 28) for (const _ip of zone.aaaa ?? []) answers.push(record(28, Buffer.from('20010db8000000000000000000000001', 'hex')));
  }
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  header.writeUInt16BE(0x8180 | (zone ? (zone.rcode ?? 0) : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, question, ...answers]);
}

describe('checkMailDomain with node:dns against a local DNS server', () => {
  const zones: Record<string, Zone> = {
    'mail.test': { mx: [[10, 'mx.mail.test']] },
    'nullmx.test': { mx: [[0, '']], a: ['192.0.2.1'] },
    'implicit.test': { a: ['192.0.2.7'] },
    'implicit6.test': { aaaa: ['2001:db8::1'] },
    'empty.test': {},
    'broken.test': { rcode: 2 },
    'refused.test': { rcode: 5 },
    'silent.test': { drop: true },
  };
  let socket: Socket;
  let resolver: MailResolver;

  before(async () => {
    socket = createSocket('udp4');
    socket.on('message', (msg, rinfo) => {
      const reply = dnsReply(msg, zones);
      if (reply) socket.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    resolver = createMailResolver({ servers: [`127.0.0.1:${(socket.address() as AddressInfo).port}`], timeoutMs: 200, tries: 1 });
  });

  after(() => socket.close());

  it('node:dns reports the codes the injected resolvers use', async () => {
    const code = (p: Promise<unknown>): Promise<unknown> => p.then(() => 'answered', (e: { code?: unknown }) => e.code);
    assert.equal(await code(resolver.resolveMx('nowhere.test')), NOTFOUND);
    assert.equal(await code(resolver.resolveMx('empty.test')), NODATA);
    assert.equal(await code(resolver.resolveMx('broken.test')), SERVFAIL);
    assert.equal(await code(resolver.resolveMx('refused.test')), REFUSED);
    assert.equal(await code(resolver.resolveMx('silent.test')), TIMEOUT);
    const nullMx = await resolver.resolveMx('nullmx.test');
    assert.deepEqual(nullMx.map(({ exchange, priority }) => ({ exchange, priority })), [{ exchange: '', priority: 0 }], 'a null MX arrives as exchange ""');
  });

  it('gives the verdicts the injected resolvers predicted', async () => {
    const verdicts: Record<string, string> = {
      'mail.test': 'deliverable',
      'implicit.test': 'deliverable',
      'implicit6.test': 'deliverable',
      'nowhere.test': 'abandoned',
      'nullmx.test': 'abandoned',
      'empty.test': 'abandoned',
      'broken.test': 'unknown',
      'refused.test': 'unknown',
      'silent.test': 'unknown',
    };
    for (const [domain, verdict] of Object.entries(verdicts)) assert.equal(await checkMailDomain(`alice@${domain}`, resolver, { timeoutMs: 1000 }), verdict, domain);
  });

  it('the system resolver has all three lookups', () => {
    assert.equal(typeof systemResolver.resolveMx, 'function');
    assert.equal(typeof systemResolver.resolve4, 'function');
    assert.equal(typeof systemResolver.resolve6, 'function');
  });
});
