// A tiny authoritative DNS server on 127.0.0.1 (UDP), so that tests can give the registry real
// answers through node:dns (ATTESTRY_DNS_SERVERS) without a network: MX and A records from a
// table, an empty answer (NODATA) for any other type of a name in the table, NXDOMAIN for names
// not in it. Enough of RFC 1035 for c-ares, nothing more: no TCP, no compression in questions.
import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { isIPv4 } from 'node:net';

export interface DnsTable {
  /** Mail exchanges by domain, most preferred first (preferences 10, 20, …). */
  mx?: Record<string, string[]>;
  /** IPv4 addresses by name. */
  a?: Record<string, string[]>;
}

export interface TestDnsServer {
  /** `127.0.0.1:<port>`, as ATTESTRY_DNS_SERVERS and node:dns's setServers take it. */
  address: string;
  /** Every question asked, in order, as `TYPE name` (`MX example.test`, `AAAA example.test`, `TYPE99 x.test`). */
  queries: string[];
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_MX = 15;
const TYPE_NAMES: Record<number, string> = { 1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 255: 'ANY' };
const CLASS_IN = 1;
const RCODE = { ok: 0, formErr: 1, nxDomain: 3, notImp: 4, refused: 5 } as const;
const HEADER_BYTES = 12;
const TTL_SECONDS = 60;

const canonical = (name: string): string => name.toLowerCase().replace(/\.$/, '');

function encodeName(name: string): Buffer {
  const labels = canonical(name) === '' ? [] : canonical(name).split('.');
  for (const l of labels) if (!/^[a-z0-9_-]{1,63}$/.test(l)) throw new Error(`test DNS server: "${name}" is not a DNS name`);
  return Buffer.concat([...labels.flatMap((l) => [Buffer.from([l.length]), Buffer.from(l, 'ascii')]), Buffer.from([0])]);
}

/** A resource record whose owner is the question's name (a pointer to offset 12). */
function record(type: number, rdata: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc000 | HEADER_BYTES, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt16BE(CLASS_IN, 4);
  head.writeUInt32BE(TTL_SECONDS, 6);
  head.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([head, rdata]);
}

interface Question {
  name: string;
  type: number;
  cls: number;
  /** The question's bytes as asked (the answer repeats them verbatim, letter case included). */
  bytes: Buffer;
}

/** The single question of a query, or null when it is not one plain question. */
function questionOf(query: Buffer): Question | null {
  if (query.readUInt16BE(4) !== 1) return null;
  const labels: string[] = [];
  let offset = HEADER_BYTES;
  for (;;) {
    const len = query[offset];
    // No label longer than 63 and no compression pointer (0xc0) in a question; none past the end.
    if (len === undefined || len > 63) return null;
    if (len === 0) break;
    if (offset + 1 + len > query.length) return null;
    labels.push(query.subarray(offset + 1, offset + 1 + len).toString('latin1'));
    offset += 1 + len;
  }
  if (offset + 5 > query.length) return null;
  return { name: canonical(labels.join('.')), type: query.readUInt16BE(offset + 1), cls: query.readUInt16BE(offset + 3), bytes: query.subarray(HEADER_BYTES, offset + 5) };
}

function reply(query: Buffer, rcode: number, question: Question | null, answers: Buffer[] = []): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  const flags = query.readUInt16BE(2);
  // QR and AA set; the opcode and RD as asked; no recursion available.
  header.writeUInt16BE(0x8000 | (flags & 0x7800) | 0x0400 | (flags & 0x0100) | rcode, 2);
  header.writeUInt16BE(question === null ? 0 : 1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, ...(question === null ? [] : [question.bytes]), ...answers]);
}

function validate(table: DnsTable): { mx: Map<string, Buffer[]>; a: Map<string, Buffer[]> } {
  const mx = new Map<string, Buffer[]>();
  const a = new Map<string, Buffer[]>();
  for (const [name, exchanges] of Object.entries(table.mx ?? {})) {
    encodeName(name);
    mx.set(canonical(name), exchanges.map((exchange, i) => {
      const preference = Buffer.alloc(2);
      preference.writeUInt16BE(10 * (i + 1));
      return record(TYPE_MX, Buffer.concat([preference, encodeName(exchange)]));
    }));
  }
  for (const [name, addresses] of Object.entries(table.a ?? {})) {
    encodeName(name);
    a.set(canonical(name), addresses.map((ip) => {
      if (!isIPv4(ip)) throw new Error(`test DNS server: "${ip}" (for ${name}) is not an IPv4 address`);
      return record(TYPE_A, Buffer.from(ip.split('.').map(Number)));
    }));
  }
  return { mx, a };
}

/** The answer to one datagram, or null for one that is not a query at all (too short, or a response). */
function answerQuery(query: Buffer, zones: ReturnType<typeof validate>, queries: string[]): Buffer | null {
  if (query.length < HEADER_BYTES || (query.readUInt16BE(2) & 0x8000) !== 0) return null;
  const question = questionOf(query);
  if (question === null) return reply(query, RCODE.formErr, null);
  queries.push(`${TYPE_NAMES[question.type] ?? `TYPE${question.type}`} ${question.name}`);
  if ((query.readUInt16BE(2) & 0x7800) !== 0) return reply(query, RCODE.notImp, question);
  if (question.cls !== CLASS_IN) return reply(query, RCODE.refused, question);
  if (!zones.mx.has(question.name) && !zones.a.has(question.name)) return reply(query, RCODE.nxDomain, question);
  const answers = question.type === TYPE_MX ? zones.mx.get(question.name) : question.type === TYPE_A ? zones.a.get(question.name) : undefined;
  return reply(query, RCODE.ok, question, answers ?? []);
}

/** Starts the server on an ephemeral port of 127.0.0.1; the table is checked first (a bad name or address throws). */
export async function startDnsServer(table: DnsTable): Promise<TestDnsServer> {
  const zones = validate(table);
  const queries: string[] = [];
  const socket = createSocket('udp4');
  socket.on('message', (message, from) => {
    const answer = answerQuery(message, zones, queries);
    if (answer !== null) socket.send(answer, from.port, from.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const { port } = socket.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    address: `127.0.0.1:${port}`,
    queries,
    close: () => (closed ??= new Promise<void>((resolve) => socket.close(() => resolve()))),
  };
}
