import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertRefused } from '../support/refusals.ts';
import { addressAllowed, parseCidrList } from '../../src/security/tokens/cidr.ts';

function refuses(list: unknown): void {
  assertRefused(() => parseCidrList(list), 'BAD_CIDR', 'invalid', JSON.stringify(list));
}

describe('parseCidrList: refusals (BAD_CIDR)', () => {
  it('refuses IPv6 CIDRs', () => {
    for (const c of ['::1/128', '::/0', '2001:db8::/32', '::ffff:10.0.0.0/104', 'fe80::1%eth0/64']) refuses([c]);
  });

  it('refuses bad octets', () => {
    for (const c of ['256.0.0.0/8', '10.0.0.256/32', '10.0.0/24', '10.0.0.0.0/8', '01.2.3.4/8', '10.00.0.0/16', '-1.0.0.0/8', '1.2.3.a/8', '1..2.3/8', '1234.0.0.0/8', '１.2.3.4/8']) refuses([c]);
  });

  it('refuses masks above 32, missing, empty or malformed', () => {
    for (const c of ['10.0.0.0/33', '10.0.0.0/99', '10.0.0.0/100', '10.0.0.1', '10.0.0.0/', '/8', '10.0.0.0/-1', '10.0.0.0/8/8', '10.0.0.0/a', '10.0.0.0/ 8', '10.0.0.0 /8']) refuses([c]);
  });

  it('refuses surrounding whitespace and empty entries', () => {
    for (const c of [' 10.0.0.0/8', '10.0.0.0/8 ', '10.0.0.0/8\n', '']) refuses([c]);
  });

  it('refuses non-string entries', () => {
    for (const c of [8, null, undefined, true, {}, ['10.0.0.0/8'], { toString: () => '10.0.0.0/8' }]) refuses([c]);
  });

  it('refuses a list that is not an array', () => {
    for (const l of ['10.0.0.0/8', 5, {}, { 0: '10.0.0.0/8', length: 1 }, true]) refuses(l);
  });

  it('refuses more than 32 entries', () => {
    refuses(Array.from({ length: 33 }, (_, i) => `10.0.${i}.0/24`));
    refuses(Array.from({ length: 1000 }, () => '10.0.0.0/8'));
  });

  it('refuses a list with one bad entry among good ones', () => {
    refuses(['10.0.0.0/8', '192.168.0.0/16', '::1/128']);
  });
});

describe('parseCidrList: accepted lists', () => {
  it('treats absent lists as empty', () => {
    assert.deepEqual(parseCidrList(undefined), []);
    assert.deepEqual(parseCidrList(null), []);
    assert.deepEqual(parseCidrList([]), []);
  });

  it('returns valid IPv4 CIDRs unchanged, /0 to /32', () => {
    const list = ['0.0.0.0/0', '10.0.0.0/8', '172.16.0.0/12', '192.168.1.0/24', '203.0.113.7/32', '255.255.255.255/32', '10.1.2.3/1'];
    assert.deepEqual(parseCidrList(list), list);
  });

  it('accepts exactly 32 entries', () => {
    const list = Array.from({ length: 32 }, (_, i) => `10.0.${i}.0/24`);
    assert.deepEqual(parseCidrList(list), list);
  });
});

describe('addressAllowed: refusals', () => {
  it('never allows a pure IPv6 address, even with 0.0.0.0/0', () => {
    for (const a of ['::1', '::', '2001:db8::1', 'fe80::1', '::ffff:0a00:0001', '::ffff:a00:1', '64:ff9b::a00:1', '::10.0.0.1']) {
      assert.equal(addressAllowed(a, ['0.0.0.0/0']), false, a);
    }
  });

  it('never allows an empty or malformed address', () => {
    for (const a of ['', 'localhost', '10.0.0', '10.0.0.256', '::ffff:', '::ffff:10.0.0', '10.0.0.1 ', ' 10.0.0.1']) {
      assert.equal(addressAllowed(a, ['0.0.0.0/0']), false, JSON.stringify(a));
    }
  });

  it('allows nothing with an empty list', () => {
    assert.equal(addressAllowed('10.0.0.1', []), false);
    assert.equal(addressAllowed('::ffff:10.0.0.1', []), false);
  });
});

describe('addressAllowed: matching', () => {
  it('/32 matches exactly one address', () => {
    const cidrs = ['10.0.0.1/32'];
    assert.equal(addressAllowed('10.0.0.1', cidrs), true);
    for (const a of ['10.0.0.0', '10.0.0.2', '10.0.1.1', '11.0.0.1', '0.0.0.0']) assert.equal(addressAllowed(a, cidrs), false, a);
  });

  it('/24 matches the 256 addresses of its block and nothing either side', () => {
    const cidrs = ['192.168.1.0/24'];
    for (const a of ['192.168.1.0', '192.168.1.1', '192.168.1.128', '192.168.1.255']) assert.equal(addressAllowed(a, cidrs), true, a);
    for (const a of ['192.168.0.255', '192.168.2.0', '192.169.1.1', '193.168.1.1']) assert.equal(addressAllowed(a, cidrs), false, a);
  });

  it('/0 matches every IPv4 address', () => {
    for (const a of ['0.0.0.0', '1.2.3.4', '127.0.0.1', '128.0.0.0', '255.255.255.255']) assert.equal(addressAllowed(a, ['0.0.0.0/0']), true, a);
    assert.equal(addressAllowed('8.8.8.8', ['203.0.113.0/0']), true, 'the base of a /0 is irrelevant');
  });

  it('handles block boundaries for other prefix lengths', () => {
    const cases: [string, string[], string[]][] = [
      ['10.0.0.0/8', ['10.0.0.0', '10.255.255.255'], ['9.255.255.255', '11.0.0.0']],
      ['172.16.0.0/12', ['172.16.0.0', '172.31.255.255'], ['172.15.255.255', '172.32.0.0']],
      ['10.0.0.0/31', ['10.0.0.0', '10.0.0.1'], ['10.0.0.2', '9.255.255.255']],
      ['128.0.0.0/1', ['128.0.0.0', '255.255.255.255', '200.1.2.3'], ['127.255.255.255', '0.0.0.0']],
      ['0.0.0.0/1', ['0.0.0.0', '127.255.255.255'], ['128.0.0.0', '255.255.255.255']],
      ['255.255.255.0/24', ['255.255.255.0', '255.255.255.255'], ['255.255.254.255']],
      ['200.100.50.0/23', ['200.100.50.0', '200.100.51.255'], ['200.100.49.255', '200.100.52.0']],
    ];
    for (const [cidr, inside, outside] of cases) {
      for (const a of inside) assert.equal(addressAllowed(a, [cidr]), true, `${a} in ${cidr}`);
      for (const a of outside) assert.equal(addressAllowed(a, [cidr]), false, `${a} not in ${cidr}`);
    }
  });

  it('masks a base address that has host bits set', () => {
    assert.equal(addressAllowed('10.0.0.200', ['10.0.0.5/24']), true);
    assert.equal(addressAllowed('10.0.1.5', ['10.0.0.5/24']), false);
  });

  it('allows an address inside any one of several CIDRs', () => {
    const cidrs = ['10.0.0.0/8', '192.168.1.0/24', '203.0.113.7/32'];
    for (const a of ['10.1.2.3', '192.168.1.9', '203.0.113.7']) assert.equal(addressAllowed(a, cidrs), true, a);
    for (const a of ['192.168.2.9', '203.0.113.8', '8.8.8.8']) assert.equal(addressAllowed(a, cidrs), false, a);
  });

  it('matches IPv4-mapped IPv6 socket addresses as their IPv4 address', () => {
    assert.equal(addressAllowed('::ffff:10.0.0.1', ['10.0.0.0/8']), true);
    assert.equal(addressAllowed('::ffff:10.0.0.1', ['10.0.0.1/32']), true);
    assert.equal(addressAllowed('::ffff:11.0.0.1', ['10.0.0.0/8']), false);
    assert.equal(addressAllowed('::ffff:127.0.0.1', ['127.0.0.0/8']), true);
  });

  it('accepts every list parseCidrList returns', () => {
    const cidrs = parseCidrList(['10.0.0.0/8', '0.0.0.0/32']);
    assert.equal(addressAllowed('10.9.9.9', cidrs), true);
    assert.equal(addressAllowed('0.0.0.0', cidrs), true);
    assert.equal(addressAllowed('0.0.0.1', cidrs), false);
  });
});
