import {
  ACMPCAClient,
  DescribeCertificateAuthorityCommand,
  GetCertificateAuthorityCertificateCommand,
  GetCertificateCommand,
  IssueCertificateCommand,
  RevokeCertificateCommand,
  type RevocationReason as PcaRevocationReason,
  type SigningAlgorithm,
} from '@aws-sdk/client-acm-pca';
import { createHash, X509Certificate } from 'node:crypto';
import { RevocationReason } from '../../domain/enrol/record.js';
import { RekeyError, TransientError } from '../../domain/errors.js';
import { IssuerKind, type ServedChain } from '../../ports/issuer.js';
import { ExternalIssuer, type CsrSignRequest, type SignedChain } from '../issuers/external-issuer.js';
import { clientConfig, type AwsClientSettings } from './client-config.js';
import { awsErrorName, translateAwsError } from './errors.js';

export interface PrivateCaIssuerOptions extends AwsClientSettings {
  readonly arn: string;
  readonly signingAlgorithm: string;
  readonly templateArn?: string;
  /** The authority's name, for messages. */
  readonly authority: string;
  readonly client?: ACMPCAClient;
  /** How long to wait for an issued certificate to become readable (IssueCertificate is asynchronous). */
  readonly readyTimeoutMs?: number;
}

const DAY_MS = 86_400_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** rekey's revocation reasons as Private CA names them. */
const PCA_REASON: Record<RevocationReason, PcaRevocationReason> = {
  [RevocationReason.Unspecified]: 'UNSPECIFIED',
  [RevocationReason.KeyCompromise]: 'KEY_COMPROMISE',
  [RevocationReason.AffiliationChanged]: 'AFFILIATION_CHANGED',
  [RevocationReason.Superseded]: 'SUPERSEDED',
  [RevocationReason.CessationOfOperation]: 'CESSATION_OF_OPERATION',
  [RevocationReason.PrivilegeWithdrawn]: 'PRIVILEGE_WITHDRAWN',
};

/** A serial as Private CA takes it (and `openssl x509 -text` prints it): hex bytes separated by colons. */
export function pcaSerial(pem: string): string {
  const hex = new X509Certificate(pem).serialNumber;
  return ((hex.length % 2 ? `0${hex}` : hex).match(/../g) ?? []).join(':');
}

/**
 * AWS Private CA as an external authority: `IssueCertificate` with rekey's CSR (idempotency token from the rotation's
 * version id, so a retried step makes one certificate), then `GetCertificate` until it is issued; `RevokeCertificate`
 * (the CA then lists the certificate in the CRL it publishes, when its CRL is enabled). The CA's key never leaves AWS;
 * the leaf's key never leaves rekey.
 */
export class PrivateCaIssuer extends ExternalIssuer {
  readonly kind = IssuerKind.AwsPrivateCa;
  private readonly client: ACMPCAClient;

  constructor(private readonly options: PrivateCaIssuerOptions) {
    super(options.authority);
    // The region is the CA's (arn:aws:acm-pca:REGION:...), whatever the runtime's is.
    const region = options.region ?? options.arn.split(':')[3];
    this.client = options.client ?? new ACMPCAClient(clientConfig({ ...options, ...(region && { region }) }));
  }

  private fail(e: unknown, operation: string): RekeyError {
    const name = awsErrorName(e);
    const target = `authority ${this.options.authority}, ${this.options.arn}`;
    // Private CA's own words for "too many requests" and "not now".
    if (name === 'LimitExceededException' || name === 'TooManyTagsException' || name === 'RequestFailedException') {
      return new TransientError(
        `AWS Private CA ${operation} (${target}): ${name}: ${(e as Error).message} (rate-limited or refused for now; retried with backoff)`,
        { cause: e },
      );
    }
    if (name === 'InvalidStateException')
      return new RekeyError(`AWS Private CA ${operation} (${target}): the CA is not active: ${(e as Error).message}`, { cause: e });
    return translateAwsError(e, { operation: `AWS Private CA ${operation}`, target });
  }

  async signCsr(request: CsrSignRequest): Promise<SignedChain> {
    let calls = 0;
    // IdempotencyToken: at most 36 characters [\w-]; the same token within 5 minutes returns the same certificate.
    const token = createHash('sha256').update(request.idempotencyKey).digest('hex').slice(0, 36);
    let arn: string | undefined;
    try {
      calls++;
      const issued = await this.client.send(
        new IssueCertificateCommand({
          CertificateAuthorityArn: this.options.arn,
          Csr: Buffer.from(request.csrPem),
          SigningAlgorithm: this.options.signingAlgorithm as SigningAlgorithm,
          Validity: { Type: 'DAYS', Value: Math.max(1, Math.ceil(request.validityMs / DAY_MS)) },
          IdempotencyToken: token,
          ...(this.options.templateArn && { TemplateArn: this.options.templateArn }),
        }),
      );
      arn = issued.CertificateArn;
    } catch (e) {
      throw this.fail(e, 'IssueCertificate');
    }
    if (!arn) throw new RekeyError(`AWS Private CA IssueCertificate (authority ${this.options.authority}) returned no certificate ARN`);
    const deadline = Date.now() + (this.options.readyTimeoutMs ?? 60_000);
    for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
      try {
        calls++;
        const got = await this.client.send(new GetCertificateCommand({ CertificateAuthorityArn: this.options.arn, CertificateArn: arn }));
        if (!got.Certificate) throw new RekeyError(`AWS Private CA GetCertificate (${arn}) returned no certificate`);
        return { cert: withNewline(got.Certificate), chain: got.CertificateChain ? withNewline(got.CertificateChain) : '', calls };
      } catch (e) {
        if (awsErrorName(e) !== 'RequestInProgressException') throw this.fail(e, 'GetCertificate');
        if (Date.now() > deadline)
          throw new TransientError(
            `AWS Private CA: certificate ${arn} not issued within ${(this.options.readyTimeoutMs ?? 60_000) / 1000}s`,
            { cause: e },
          );
        await sleep(delay);
      }
    }
  }

  async readChain(): Promise<ServedChain> {
    try {
      const r = await this.client.send(new GetCertificateAuthorityCertificateCommand({ CertificateAuthorityArn: this.options.arn }));
      if (!r.Certificate) throw new RekeyError(`AWS Private CA ${this.options.arn} has no CA certificate yet`);
      // A root CA: its certificate is the root. A subordinate CA: its certificate, then the chain up to the root.
      const chain = r.CertificateChain ? withNewline(r.CertificateChain) : '';
      if (!chain) return { roots: withNewline(r.Certificate), intermediates: '' };
      return { roots: lastBlock(chain), intermediates: withNewline(r.Certificate) + withoutLastBlock(chain) };
    } catch (e) {
      throw this.fail(e, 'GetCertificateAuthorityCertificate');
    }
  }

  async revokeAtCa(_serial: string, pem: string, reason: RevocationReason): Promise<{ calls: number }> {
    try {
      await this.client.send(
        new RevokeCertificateCommand({
          CertificateAuthorityArn: this.options.arn,
          CertificateSerial: pcaSerial(pem),
          RevocationReason: PCA_REASON[reason],
        }),
      );
    } catch (e) {
      // Revoked before (a retried revocation whose record write failed): what was asked is done.
      if (awsErrorName(e) !== 'RequestAlreadyProcessedException') throw this.fail(e, 'RevokeCertificate');
    }
    return { calls: 1 };
  }

  /** Where the CA writes its CRL when its CRL is enabled: its CNAME, else its S3 bucket, at crl/<CA id>.crl. */
  async crlLocation(): Promise<{ publisher: string; url?: string }> {
    const publisher = `AWS Private CA ${this.options.arn}`;
    try {
      const { CertificateAuthority: ca } = await this.client.send(
        new DescribeCertificateAuthorityCommand({ CertificateAuthorityArn: this.options.arn }),
      );
      const crl = ca?.RevocationConfiguration?.CrlConfiguration;
      if (!crl?.Enabled || !(crl.CustomCname || crl.S3BucketName)) return { publisher };
      const host = crl.CustomCname || `${crl.S3BucketName}.s3.${this.options.arn.split(':')[3]}.amazonaws.com`;
      return { publisher, url: `http://${host}/crl/${this.options.arn.split('/').pop()}.crl` };
    } catch (e) {
      throw this.fail(e, 'DescribeCertificateAuthority');
    }
  }
}

const withNewline = (pem: string) => (pem.endsWith('\n') ? pem : `${pem}\n`);
const BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g;
const lastBlock = (pem: string) => withNewline([...pem.matchAll(BLOCK)].map((m) => m[0]).pop() ?? '');
const withoutLastBlock = (pem: string) =>
  [...pem.matchAll(BLOCK)]
    .map((m) => withNewline(m[0]))
    .slice(0, -1)
    .join('');
