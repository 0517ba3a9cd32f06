import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCsr, CsrFormatError, parseCsr } from '../../../../shared/domain/pki/csr.js';
import { generateKeyPair } from '../../../../shared/domain/pki/keys.js';
import { InvalidInventoryError } from '../../../../shared/domain/errors.js';
import { opensslCsr } from '../../../fixtures/openssl.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';

const dir = mkdtempSync(join(tmpdir(), 'rekey-csr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ALT = { dnsNames: ['svc.example', 'b.svc.example'], ipAddresses: ['10.0.0.1'], uris: ['spiffe://apps/svc'] };

describe('PKCS#10 requests', () => {
  it.each(['ECDSA-P256', 'ECDSA-P384', 'RSA-2048', 'Ed25519'] as const)(
    'a %s request rekey builds is verified by openssl and parsed back',
    (keyType) => {
      // Prepare
      const { privateKey } = generateKeyPair(keyType);
      // Act
      const pem = buildCsr({ subject: { commonName: 'svc.example', organization: ['Example'] }, privateKey, altNames: ALT });
      // Assess
      writeFileSync(join(dir, `${keyType}.csr`), pem);
      const text = execFileSync('openssl', ['req', '-in', join(dir, `${keyType}.csr`), '-noout', '-verify', '-text'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      expect(text).toContain('DNS:svc.example, DNS:b.svc.example');
      const parsed = parseCsr(pem);
      expect(parsed).toMatchObject({
        commonName: 'svc.example',
        dnsNames: ALT.dnsNames,
        ipAddresses: ALT.ipAddresses,
        uris: ALT.uris,
        signatureValid: true,
      });
    },
  );

  it('an openssl-made request parses, with its names', () => {
    // Prepare
    const { csr } = opensslCsr(dir, 'o', '/CN=o.example', 'DNS:o.example,IP:127.0.0.1');
    // Act
    const parsed = parseCsr(csr);
    // Assess
    expect(parsed).toMatchObject({ commonName: 'o.example', dnsNames: ['o.example'], ipAddresses: ['127.0.0.1'], signatureValid: true });
  });

  it('a request whose signature does not verify (a name changed after signing) is reported as such', () => {
    // Prepare
    const pem = buildCsr({
      subject: { commonName: 'aaaa.example' },
      privateKey: generateKeyPair('ECDSA-P256').privateKey,
      altNames: { dnsNames: ['aaaa.example'], ipAddresses: [], uris: [] },
    });
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const at = der.indexOf(Buffer.from('aaaa.example'));
    der.write('bbbb', at);
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    // Act
    const parsed = parseCsr(tampered);
    // Assess
    expect(parsed.commonName).toBe('bbbb.example');
    expect(parsed.signatureValid).toBe(false);
  });

  it.each([
    ['no PEM', 'hello'],
    ['not DER', '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----'],
  ])('%s is a CsrFormatError', (_what, text) => {
    expect(() => parseCsr(text)).toThrow(CsrFormatError);
  });
});

describe('external authorities in the inventory', () => {
  const inv = (external: string, extra = '') => `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: ext}
authorities:
  - {name: root, commonName: root}
  - {name: corp-ca, commonName: corp-ca, external: ${external}${extra}}
certificates:
  - {name: web, issuer: corp-ca, usage: server, commonName: web, dnsNames: [web.example.com], secret: {name: web, namespace: a}}
`;
  const issues = (text: string) => {
    try {
      loadInventory(text);
      return [];
    } catch (e) {
      return (e as InvalidInventoryError).issues.map((i) => `${i.path}: ${i.message}`);
    }
  };

  it('accepts awsPrivateCa and acme, and an external authority renews only when expired', () => {
    const pca = loadInventory(
      inv(
        '{awsPrivateCa: {arn: "arn:aws:acm-pca:eu-west-1:123456789012:certificate-authority/abc-123", signingAlgorithm: SHA256WITHECDSA}}',
      ),
    );
    const acme = loadInventory(
      inv(
        '{acme: {directory: "https://acme.example/dir", email: ops@example.com, solver: {dns01: {route53: {hostedZoneId: Z123ABC}}}, roots: "https://acme.example/roots"}}',
      ),
    );
    expect(pca.items.get('corp-ca')).toMatchObject({
      external: { awsPrivateCa: { signingAlgorithm: 'SHA256WITHECDSA' } },
      renewBeforeMs: 0,
    });
    expect(acme.items.get('corp-ca')).toMatchObject({ external: { acme: { email: 'ops@example.com' } } });
  });

  it.each([
    ['a bad ARN', '{awsPrivateCa: {arn: "arn:aws:s3:::bucket", signingAlgorithm: SHA256WITHRSA}}', '', 'authorities[1].external'],
    [
      'an http directory',
      '{acme: {directory: "http://acme.example/dir", email: a@b.c, solver: {dns01: {route53: {hostedZoneId: Z1}}}}}',
      '',
      'authorities[1].external',
    ],
    [
      'a parent',
      '{awsPrivateCa: {arn: "arn:aws:acm-pca:eu-west-1:123456789012:certificate-authority/abc", signingAlgorithm: SHA256WITHRSA}}',
      ', parent: root',
      'authorities[1].parent: an external authority has no parent',
    ],
  ])('refuses %s, naming the field', (_what, external, extra, expected) => {
    const found = issues(inv(external, extra));
    expect(
      found.some((i) => i.startsWith(expected)),
      found.join('\n'),
    ).toBe(true);
  });
});
