import { describe, expect, it } from 'vitest';
import {
  canonicalIp,
  directoryProblem,
  dnsNameProblem,
  fileNameProblem,
  ipAddressProblem,
  uriProblem,
} from '../../../../shared/domain/inventory/names.js';
import { quote, unsafeCharacter } from '../../../../shared/domain/inventory/text.js';

/** Table-driven tests of the validators behind the schema: each row is a value and what must be said about it. */

describe('dnsNameProblem', () => {
  it.each([
    'web',
    'web.shop.svc',
    'management-server.apic.svc.cluster.local',
    '*.example.com',
    '*.apps.example.co.uk',
    'xn--bcher-kva.example',
    'WEB.Example.COM',
    '1password.com',
    'a'.repeat(63) + '.example.com',
    ['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(61)].join('.'),
  ])('accepts %s', (name) => {
    expect(dnsNameProblem(name)).toBeUndefined();
  });

  it.each([
    ['*.com', /at least two labels after it/],
    ['*', /at least two labels/],
    ['*.*.example.com', /only allowed as the whole left-most label/],
    ['web.*.example.com', /only allowed as the whole left-most label/],
    ['w*.example.com', /whole left-most label/],
    ['a'.repeat(64) + '.example.com', /label of 64 characters; at most 63/],
    [['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(62)].join('.'), /254 characters; at most 253/],
    ['1.2.3.4', /looks like an IP address, not a DNS name: put it in ipAddresses/],
    ['web.example.com.', /no trailing dot/],
    ['web..example.com', /empty label/],
    ['-web', /inner hyphens/],
    ['web-', /inner hyphens/],
    ['under_score.example.com', /inner hyphens/],
    ['bücher.example', /xn-- form/],
    ['web.123', /last label must not be all digits/],
    ['', /empty/],
    ['web\u0000.example.com', /NUL \(U\+0000\)/],
    ['web\u202e.example.com', /bidirectional control U\+202E/],
  ])('refuses %j', (name, why) => {
    expect(dnsNameProblem(name)).toMatch(why);
  });

  it('never echoes a control character: it is escaped', () => {
    expect(dnsNameProblem('a\u0000b\u001b[31m')).toContain('"a\\u0000b\\u001b[31m"');
  });
});

describe('canonicalIp and ipAddressProblem', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['255.255.255.255', '255.255.255.255'],
    ['0.0.0.0', '0.0.0.0'],
    ['::1', '::1'],
    ['::', '::'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:db8:0:0:0:0:0:1', '2001:db8::1'],
    ['::ffff:1.2.3.4', '::ffff:102:304'],
    ['::ffff:192.168.0.1', '::ffff:c0a8:1'],
    ['64:ff9b::1.2.3.4', '64:ff9b::102:304'],
    ['::1.2.3.4', '::102:304'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['fe80:0:0:0:1:0:0:0', 'fe80::1:0:0:0'],
    ['1::2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
  ])('%s is an address, canonically %s', (text, canonical) => {
    expect(canonicalIp(text)).toBe(canonical);
    expect(ipAddressProblem(text)).toBeUndefined();
  });

  it.each([
    ['300.1.2.3', /not an IP address/],
    ['1.2.3', /not an IP address/],
    ['010.0.0.1', /no leading zeros/],
    ['10.0.0.0/8', /not a prefix/],
    ['fe80::1%eth0', /no zone ids/],
    ['2001:db8::1::2', /not an IP address/],
    ['1:2:3:4:5:6:7:8:9', /not an IP address/],
    ['1:2:3:4:5:6:7:8::', /not an IP address/],
    ['1:2:3:4:5:6:7:1.2.3.4', /not an IP address/],
    ['::ffff:1.2.3.256', /not an IP address/],
    [':1.2.3.4', /not an IP address/],
    [':::', /not an IP address/],
    ['12345::1', /not an IP address/],
    ['', /not an IP address/],
    ['localhost', /not an IP address/],
  ])('refuses %j', (text, why) => {
    expect(canonicalIp(text)).toBeUndefined();
    expect(ipAddressProblem(text)).toMatch(why);
  });
});

describe('uriProblem', () => {
  it.each([
    'spiffe://example.org/ns/shop/sa/web',
    'spiffe://cluster.local',
    'https://example.com/',
    'https://example.com:8443/api?x=1#top',
    'http://localhost:8080',
    'urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66',
    'urn:example:animal:ferret:nose',
  ])('accepts %s', (uri) => {
    expect(uriProblem(uri)).toBeUndefined();
  });

  it.each([
    ['javascript:alert(1)', /scheme "javascript:" is not allowed/],
    ['JAVASCRIPT:alert(1)', /scheme "javascript:" is not allowed/],
    ['data:text/html,x', /scheme "data:"/],
    ['file:///etc/passwd', /scheme "file:"/],
    ['example.com/path', /no scheme/],
    ['https://user:pw@example.com/', /no user or password/],
    ['https:///path', /no host/],
    ['spiffe://Example.org/web', /lower-case trust domain/],
    ['spiffe://example.org/a/../b', /path segments/],
    ['spiffe://example.org/web?x=1', /path segments/],
    ['urn:x', /urn:<namespace>:<name>/],
    ['https://example.com/a b', /no spaces/],
    ['https://example.com/\u202e', /bidirectional control/],
    ['https://example.com/' + 'p'.repeat(1100), /at most 1024/],
  ])('refuses %j', (uri, why) => {
    expect(uriProblem(uri)).toMatch(why);
  });
});

describe('files targets', () => {
  it.each(['tls.key', 'server.crt', '.hidden', 'a..b', 'k'.repeat(255)])('%s is a plain file name', (name) => {
    expect(fileNameProblem(name)).toBeUndefined();
  });

  it.each([
    ['', /must not be empty/],
    ['.', /not a plain file name/],
    ['..', /not a plain file name/],
    ['../../escaped.key', /no "\/"/],
    ['/etc/passwd', /no "\/"/],
    ['sub/tls.key', /no "\/"/],
    ['..\\tls.key', /no "\/" or "\\"/],
    ['tls\u0000.key', /NUL/],
    ['k'.repeat(256), /256 bytes; at most 255/],
    ['é'.repeat(128), /256 bytes/],
  ])('refuses file name %j', (name, why) => {
    expect(fileNameProblem(name)).toMatch(why);
  });

  it.each(['/etc/tls', '/', '/etc/tpa/pg-backup-api', '/var/lib/x.y'])('%s is a directory', (dir) => {
    expect(directoryProblem(dir)).toBeUndefined();
  });

  it.each([
    ['etc/tls', /absolute/],
    ['./tls', /absolute/],
    ['', /absolute/],
    ['/etc/../root', /"\.\."/],
    ['/etc/./tls', /"\."/],
    ['/etc/tls\n', /newline/],
  ])('refuses dir %j', (dir, why) => {
    expect(directoryProblem(dir)).toMatch(why);
  });
});

describe('unsafe text', () => {
  it.each([
    ['a\u0000', 'control character NUL (U+0000) at position 2'],
    ['\n', 'control character newline (U+000A) at position 1'],
    ['x\u001b[2J', 'control character escape (U+001B) at position 2'],
    ['\u0085', 'control character U+0085 at position 1'],
    ['abc\u202e', 'bidirectional control U+202E at position 4'],
    ['\u2066', 'bidirectional control U+2066 at position 1'],
    ['\ufeffx', 'control character U+FEFF at position 1'],
  ])('%j: %s', (text, description) => {
    expect(unsafeCharacter(text)).toBe(description);
  });

  it.each(['plain', 'Ünïcödé', 'management-server', '日本語', 'emoji 😀', 'tab-free'])('%s is safe', (text) => {
    expect(unsafeCharacter(text)).toBeUndefined();
  });

  it('a command may hold tabs and newlines, nothing else', () => {
    expect(unsafeCharacter('a\n\tb', { allowNewline: true })).toBeUndefined();
    expect(unsafeCharacter('a\u0000', { allowNewline: true })).toMatch(/NUL/);
  });

  it('quote escapes controls, backslashes and quotes, and cuts long values', () => {
    expect(quote('a"b\\c\u0000\u202e')).toBe('"a\\"b\\\\c\\u0000\\u202e"');
    expect(quote('x'.repeat(200))).toBe(`"${'x'.repeat(80)}…(200 characters)"`);
  });
});
