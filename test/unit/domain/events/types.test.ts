import { describe, expect, it } from 'vitest';
import { assertNoSecrets, EventType, makeEvent, type RekeyEvent } from '../../../../shared/domain/events/types.js';

const base = { inventory: 'shop', item: 'web', rotationId: 'r1' };
const SYNCED = { cluster: 'dc1', namespace: 'shop', secret: 'web-tls', versionId: 'v1', change: 'updated' };
const withDetail = (extra: Record<string, unknown>): RekeyEvent => makeEvent(EventType.SecretSynced, base, { ...SYNCED, ...extra });

describe('event names', () => {
  it('are the contract list', () => {
    expect(Object.values(EventType).sort()).toEqual(
      [
        'CertificateIssued',
        'CredentialIssued',
        'VersionPromoted',
        'SecretSynced',
        'RestartRequested',
        'RestartCompleted',
        'RestartFailed',
        'RotationStarted',
        'RotationStepCompleted',
        'RotationCompleted',
        'RotationFailed',
        'RotationRolledBack',
        'RotationPhaseChanged',
        'ExpiringSoon',
        'DriftDetected',
        'RemediationDecided',
      ].sort(),
    );
  });

  it('makeEvent fills `at` and keeps inventory, item and rotationId over extra fields of the same name', () => {
    // Act
    const e = makeEvent(EventType.RotationStarted, base, { kind: 'leaf', trigger: 'manual', item: 'spoofed', reason: 'manual' });
    // Assess
    expect(e.detail).toMatchObject({ inventory: 'shop', item: 'web', rotationId: 'r1', reason: 'manual' });
    expect(Date.parse(e.detail.at)).not.toBeNaN();
  });
});

describe('assertNoSecrets', () => {
  it.each([
    ['a PKCS#8 private key in a string', { message: 'x -----BEGIN PRIVATE KEY-----\nMC4CAQ\n-----END PRIVATE KEY-----' }],
    ['an EC private key deep in an object', { nested: { list: [{ text: '-----BEGIN EC PRIVATE KEY-----' }] } }],
    ['an RSA private key in an array', { lines: ['ok', '-----BEGIN RSA PRIVATE KEY-----'] }],
    ['an encrypted private key', { blob: '-----BEGIN ENCRYPTED PRIVATE KEY-----' }],
    ['a field named password', { password: 'hunter2' }],
    ['a field named key', { key: 'x' }],
    ['a field named privateKey (any case)', { PrivateKey: 'x' }],
    ['a field named token, nested', { auth: { token: 'abc' } }],
    ['a field named tls.key', { data: { 'tls.key': 'x' } }],
    ['a field named secretString', { secretString: '{}' }],
    ['a field named material', { material: {} }],
    ['a field named value', { value: 'x' }],
    ['a field named pem', { pem: 'x' }],
  ])('rejects %s', (_label, extra) => {
    expect(() => assertNoSecrets(withDetail(extra))).toThrow(/carries/);
  });

  it.each([
    [
      'a private key deep in an array',
      { nested: { list: [{ text: 'ok' }, { text: '-----BEGIN EC PRIVATE KEY-----' }] } },
      'a private key at detail.nested.list.1.text',
    ],
    ['a forbidden field after siblings', { a: { b: 'x', c: ['y'] }, d: { token: 'z' } }, 'a forbidden field detail.d.token'],
  ])('names where it found %s', (_label, extra, where) => {
    expect(() => assertNoSecrets(withDetail(extra))).toThrow(`carries ${where}`);
  });

  it.each([
    ['a certificate', { certificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----' }],
    ['fingerprints, serials and version ids', { fingerprint: 'ab', serial: '01', versionId: 'v', keyType: 'RSA-2048' }],
    ['words that contain forbidden names', { keyType: 'x', tokenLifetime: '1h', passwordPolicy: 'y', monkey: 'z' }],
    ['the word "private key" in prose', { message: 'the private key does not match' }],
  ])('accepts %s', (_label, extra) => {
    expect(() => assertNoSecrets(withDetail(extra))).not.toThrow();
  });
});
