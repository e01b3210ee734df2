import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertRefused } from '../support/refusals.ts';
import { MAX_NAME_LENGTH, isPlausibleName, parsePackagePath, splitName, tarballFilename, validateNewName } from '../../src/ecosystems/npm/names.ts';

function refuses(name: string): void {
  assertRefused(() => validateNewName(name), 'INVALID_PACKAGE_NAME', 'invalid', JSON.stringify(name));
}

describe('validateNewName: refusals (INVALID_PACKAGE_NAME)', () => {
  it('refuses the empty name', () => refuses(''));

  it('refuses upper-case letters, in the name or the scope', () => {
    for (const n of ['Foo', 'foO', 'LEFTPAD', '@Scope/pkg', '@scope/Pkg', '@SCOPE/PKG']) refuses(n);
  });

  it('refuses a leading dot or underscore, in the name or the scope', () => {
    for (const n of ['.bin', '_private', '.', '..', '@scope/.hidden', '@scope/_x', '@.scope/x', '@_scope/x']) refuses(n);
  });

  it('refuses spaces and other whitespace', () => {
    for (const n of ['left pad', ' leftpad', 'leftpad ', 'left\tpad', 'left\npad', '@scope/left pad', '@sc ope/x']) refuses(n);
  });

  it('refuses characters that are not URL-safe', () => {
    for (const n of ['a/b', 'a%20b', 'a?b', 'a#b', 'a:b', 'a@b', 'a&b', 'a+b', 'a=b', 'a"b', "a'b", 'a<b>', 'a\\b', 'a,b', 'a;b', 'a|b', 'é', 'pàckage', 'a\u0000b', '%2e%2e', '@scope/a%2fb', '@sco:pe/x']) {
      refuses(n);
    }
  });

  it('refuses reserved names: node_modules, favicon.ico and Node core modules', () => {
    for (const n of ['node_modules', 'favicon.ico', 'http', 'fs', 'path', 'crypto', 'child_process', 'net', 'os', 'stream', 'util', 'events']) refuses(n);
  });

  it('refuses names longer than 214 characters, scoped or not', () => {
    refuses('a'.repeat(MAX_NAME_LENGTH + 1));
    refuses(`@scope/${'a'.repeat(MAX_NAME_LENGTH - '@scope/'.length + 1)}`);
    refuses('a'.repeat(10_000));
  });

  it('refuses malformed scoped names', () => {
    for (const n of ['@scope', '@scope/', '@/x', '@', '@/', '@a/b/c', '@a//b', '@@a/b', '@a/@b', '/x', 'x/']) refuses(n);
  });
});

describe('validateNewName: accepted names', () => {
  it('accepts normal names', () => {
    for (const n of ['leftpad', 'left-pad', 'left.pad', 'left_pad', 'left~pad', 'a', '0', '1password', 'react-dom', 'lodash.merge', 'x-']) {
      assert.deepEqual(validateNewName(n), { name: n, scope: null, bare: n });
    }
  });

  it('accepts scoped names and splits them', () => {
    assert.deepEqual(validateNewName('@scope/pkg'), { name: '@scope/pkg', scope: 'scope', bare: 'pkg' });
    assert.deepEqual(validateNewName('@a-b.c_d/e-f'), { name: '@a-b.c_d/e-f', scope: 'a-b.c_d', bare: 'e-f' });
    assert.deepEqual(validateNewName('@s/0'), { name: '@s/0', scope: 's', bare: '0' });
  });

  it('accepts core module and reserved names inside a scope', () => {
    for (const n of ['@scope/http', '@scope/fs', '@scope/node_modules']) assert.equal(validateNewName(n).name, n);
  });

  it('accepts exactly 214 characters', () => {
    const long = 'a'.repeat(MAX_NAME_LENGTH);
    assert.equal(validateNewName(long).name, long);
    const scoped = `@scope/${'a'.repeat(MAX_NAME_LENGTH - '@scope/'.length)}`;
    assert.equal(scoped.length, MAX_NAME_LENGTH);
    assert.equal(validateNewName(scoped).name, scoped);
  });

  it('accepts names that merely contain a core module name', () => {
    for (const n of ['http-server', 'fs-extra', 'node-fetch', 'httpx']) assert.equal(validateNewName(n).name, n);
  });
});

describe('splitName / isPlausibleName', () => {
  it('splits scoped and unscoped names', () => {
    assert.deepEqual(splitName('@s/n'), { name: '@s/n', scope: 's', bare: 'n' });
    assert.deepEqual(splitName('n'), { name: 'n', scope: null, bare: 'n' });
  });

  it('accepts existing legacy (upper-case) names but nothing with a path separator or percent sign', () => {
    assert.equal(isPlausibleName('JSONStream'), true);
    assert.equal(isPlausibleName('@Legacy/Pkg'), true);
    for (const n of ['', 'a/b', '@s/n/x', '@s', '@/n', 'a%2fb', 'a b', 'a'.repeat(MAX_NAME_LENGTH + 1)]) assert.equal(isPlausibleName(n), false, n);
  });
});

describe('parsePackagePath: refusals', () => {
  it('returns null for an empty path or root', () => {
    assert.equal(parsePackagePath(''), null);
    assert.equal(parsePackagePath('/'), null);
  });

  it('returns null for bad percent-encoding', () => {
    for (const p of ['/%', '/%E0%A4%A', '/%zz', '/@s/%E0%A4%A', '/@s%2f%zz', '/pkg%', '/%40s/%']) assert.equal(parsePackagePath(p), null, p);
  });

  // The parser only decodes; callers refuse implausible names (a publish with INVALID_PACKAGE_NAME).
  const implausible = (p: string) => {
    const parsed = parsePackagePath(p);
    return parsed === null || !isPlausibleName(parsed.name);
  };

  it('yields no plausible name for an incomplete or over-long scoped name', () => {
    for (const p of ['/@s', '/@s/', '/%40s', '/@s%2f', '/@%2fn', '/@s%2fn%2fx', '//n']) assert.ok(implausible(p), p);
  });

  it('yields no plausible name for slashes, spaces, double encoding or excessive length', () => {
    for (const p of ['/a%2fb', '/a%20b', '/@s%252fn', '/a%3Fb', `/${'a'.repeat(MAX_NAME_LENGTH + 1)}`]) assert.ok(implausible(p), p);
  });
});

describe('parsePackagePath: scoped and unscoped paths', () => {
  it('decodes every spelling of a scoped name', () => {
    for (const p of ['/@s%2fn', '/@s%2Fn', '/@s/n', '/%40s%2fn', '/%40s%2Fn', '/%40s/n']) {
      assert.deepEqual(parsePackagePath(p), { name: '@s/n', rest: [] }, p);
    }
  });

  it('keeps the remaining segments raw, for every spelling', () => {
    assert.deepEqual(parsePackagePath('/@s%2fn/-/n-1.0.0.tgz'), { name: '@s/n', rest: ['-', 'n-1.0.0.tgz'] });
    assert.deepEqual(parsePackagePath('/@s/n/-/n-1.0.0.tgz'), { name: '@s/n', rest: ['-', 'n-1.0.0.tgz'] });
    assert.deepEqual(parsePackagePath('/%40s%2Fn/-/n-1.0.0.tgz'), { name: '@s/n', rest: ['-', 'n-1.0.0.tgz'] });
    assert.deepEqual(parsePackagePath('/@s/n/1.0.0'), { name: '@s/n', rest: ['1.0.0'] });
    assert.deepEqual(parsePackagePath('/@s/n/-rev/3-abc'), { name: '@s/n', rest: ['-rev', '3-abc'] });
    assert.deepEqual(parsePackagePath('/pkg/%5E1.0.0'), { name: 'pkg', rest: ['%5E1.0.0'] }, 'rest segments are not decoded');
  });

  it('handles unscoped names', () => {
    assert.deepEqual(parsePackagePath('/pkg'), { name: 'pkg', rest: [] });
    assert.deepEqual(parsePackagePath('/pkg/1.0.0'), { name: 'pkg', rest: ['1.0.0'] });
    assert.deepEqual(parsePackagePath('/pkg/-/pkg-1.0.0.tgz'), { name: 'pkg', rest: ['-', 'pkg-1.0.0.tgz'] });
    assert.deepEqual(parsePackagePath('/pkg/'), { name: 'pkg', rest: [''] });
    assert.deepEqual(parsePackagePath('/JSONStream'), { name: 'JSONStream', rest: [] }, 'legacy names can be read');
  });
});

describe('tarballFilename', () => {
  it('uses the bare name for scoped packages', () => {
    assert.equal(tarballFilename('@s/n', '1.0.0'), 'n-1.0.0.tgz');
    assert.equal(tarballFilename('@scope/pkg', '2.0.0-beta.1'), 'pkg-2.0.0-beta.1.tgz');
  });

  it('uses the name for unscoped packages', () => {
    assert.equal(tarballFilename('pkg', '1.0.0'), 'pkg-1.0.0.tgz');
    assert.equal(tarballFilename('left-pad', '1.3.0'), 'left-pad-1.3.0.tgz');
  });
});
