import { ACMPCAClient, GetCertificateCommand, IssueCertificateCommand } from '@aws-sdk/client-acm-pca';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { PrivateCaIssuer } from '../../../../shared/adapters/aws/private-ca-issuer.js';
import { SIGN_RETRY, withBackoff } from '../../../../shared/adapters/issuers/external-issuer.js';
import { RekeyError, TransientError } from '../../../../shared/domain/errors.js';

const ARN = 'arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/11111111-2222-3333-4444-555555555555';
const CERT_ARN = `${ARN}/certificate/abc`;
const REQUEST = {
  csrPem: '-----BEGIN CERTIFICATE REQUEST-----\nMA==\n-----END CERTIFICATE REQUEST-----\n',
  dnsNames: ['a.example'],
  validityMs: 86_400_000 * 30,
  idempotencyKey: 'rot-1',
};

// The Private CA client comes with older smithy types than the mock's: same runtime shape, cast at this one place.
const pca = mockClient(ACMPCAClient as unknown as Parameters<typeof mockClient>[0]);
const sdkError = (name: string, status = 400) =>
  Object.assign(new Error(`${name} from the service`), { name, $metadata: { httpStatusCode: status } });
const noSleep = () => Promise.resolve();

beforeEach(() => pca.reset());

describe('AWS Private CA issuer', () => {
  it('issues with the CSR, a validity in days and an idempotency token from the rotation, then reads the certificate once issued', async () => {
    // Prepare
    pca.on(IssueCertificateCommand as never).resolves({ CertificateArn: CERT_ARN } as never);
    pca
      .on(GetCertificateCommand as never)
      .rejectsOnce(sdkError('RequestInProgressException'))
      .resolves({ Certificate: 'LEAF', CertificateChain: 'CHAIN' } as never);
    const signer = new PrivateCaIssuer({
      arn: ARN,
      signingAlgorithm: 'SHA256WITHECDSA',
      authority: 'corp-ca',
      client: pca as unknown as ACMPCAClient,
    });
    // Act
    const signed = await signer.signCsr(REQUEST);
    // Assess
    const input = (pca.commandCalls(IssueCertificateCommand as never)[0]!.args[0] as IssueCertificateCommand).input;
    expect(input.Validity).toEqual({ Type: 'DAYS', Value: 30 });
    expect(input.SigningAlgorithm).toBe('SHA256WITHECDSA');
    expect(input.IdempotencyToken).toMatch(/^[0-9a-f]{36}$/);
    expect(Buffer.from(input.Csr!).toString()).toBe(REQUEST.csrPem);
    expect(signed).toEqual({ cert: 'LEAF\n', chain: 'CHAIN\n', calls: 3 });
  });

  it.each([
    ['ThrottlingException', 400],
    ['LimitExceededException', 400],
    ['ServiceUnavailable', 503],
  ])('%s (rate-limited, unavailable) is a TransientError, retried with backoff, then thrown naming the tries', async (name, status) => {
    // Prepare
    pca.on(IssueCertificateCommand as never).rejects(sdkError(name, status));
    const signer = new PrivateCaIssuer({
      arn: ARN,
      signingAlgorithm: 'SHA256WITHRSA',
      authority: 'corp-ca',
      client: pca as unknown as ACMPCAClient,
      maxAttempts: 1,
    });
    const delays: number[] = [];
    // Act
    const error = await withBackoff(
      'web: signing',
      () => signer.signCsr(REQUEST),
      (ms) => (delays.push(ms), noSleep()),
    ).catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toContain(`tried ${SIGN_RETRY.attempts} times`);
    expect(delays).toEqual([500, 1500, 4500]);
    expect(pca.commandCalls(IssueCertificateCommand as never)).toHaveLength(SIGN_RETRY.attempts);
  });

  it('access denied fails at once, not retried, saying so', async () => {
    // Prepare
    pca.on(IssueCertificateCommand as never).rejects(sdkError('AccessDeniedException', 403));
    const signer = new PrivateCaIssuer({
      arn: ARN,
      signingAlgorithm: 'SHA256WITHRSA',
      authority: 'corp-ca',
      client: pca as unknown as ACMPCAClient,
    });
    // Act
    const error = await withBackoff('web: signing', () => signer.signCsr(REQUEST), noSleep).catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(RekeyError);
    expect(error).not.toBeInstanceOf(TransientError);
    expect((error as Error).message).toMatch(/AWS Private CA IssueCertificate .*access denied/);
    expect(pca.commandCalls(IssueCertificateCommand as never)).toHaveLength(1);
  });

  it('a CA that is not active is a clear, non-retryable error', async () => {
    // Prepare
    pca.on(IssueCertificateCommand as never).rejects(sdkError('InvalidStateException'));
    const signer = new PrivateCaIssuer({
      arn: ARN,
      signingAlgorithm: 'SHA256WITHRSA',
      authority: 'corp-ca',
      client: pca as unknown as ACMPCAClient,
    });
    // Act
    const error = await signer.signCsr(REQUEST).catch((e: unknown) => e);
    // Assess
    expect(error).not.toBeInstanceOf(TransientError);
    expect((error as Error).message).toContain('the CA is not active');
  });
});
