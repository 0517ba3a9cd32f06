import {
  ACMPCAClient,
  CreateCertificateAuthorityCommand,
  GetCertificateAuthorityCsrCommand,
  GetCertificateCommand,
  ImportCertificateAuthorityCertificateCommand,
  IssueCertificateCommand,
} from '@aws-sdk/client-acm-pca';

/** A root AWS Private CA on moto, ACTIVE: created, self-signed through IssueCertificate (RootCACertificate), imported. */
export async function createActiveRootCa(commonName: string): Promise<{ arn: string; client: ACMPCAClient }> {
  const client = new ACMPCAClient({ region: process.env.AWS_REGION ?? 'us-east-1' });
  const created = await client.send(
    new CreateCertificateAuthorityCommand({
      CertificateAuthorityType: 'ROOT',
      CertificateAuthorityConfiguration: {
        KeyAlgorithm: 'RSA_2048',
        SigningAlgorithm: 'SHA256WITHRSA',
        Subject: { CommonName: commonName, Organization: 'rekey tests' },
      },
    }),
  );
  const arn = created.CertificateAuthorityArn!;
  const csr = await client.send(new GetCertificateAuthorityCsrCommand({ CertificateAuthorityArn: arn }));
  const issued = await client.send(
    new IssueCertificateCommand({
      CertificateAuthorityArn: arn,
      Csr: Buffer.from(csr.Csr!),
      SigningAlgorithm: 'SHA256WITHRSA',
      TemplateArn: 'arn:aws:acm-pca:::template/RootCACertificate/V1',
      Validity: { Type: 'YEARS', Value: 10 },
    }),
  );
  const root = await client.send(new GetCertificateCommand({ CertificateAuthorityArn: arn, CertificateArn: issued.CertificateArn! }));
  await client.send(
    new ImportCertificateAuthorityCertificateCommand({ CertificateAuthorityArn: arn, Certificate: Buffer.from(root.Certificate!) }),
  );
  return { arn, client };
}

/**
 * Gives an active root CA a new certificate for the same key (issued again with the RootCACertificate template and
 * imported), as an operator re-issuing the CA's certificate would: the CA now serves another chain.
 */
export async function reissueRootCaCertificate(client: ACMPCAClient, arn: string): Promise<string> {
  const csr = await client.send(new GetCertificateAuthorityCsrCommand({ CertificateAuthorityArn: arn }));
  const issued = await client.send(
    new IssueCertificateCommand({
      CertificateAuthorityArn: arn,
      Csr: Buffer.from(csr.Csr!),
      SigningAlgorithm: 'SHA256WITHRSA',
      TemplateArn: 'arn:aws:acm-pca:::template/RootCACertificate/V1',
      Validity: { Type: 'YEARS', Value: 10 },
    }),
  );
  const root = await client.send(new GetCertificateCommand({ CertificateAuthorityArn: arn, CertificateArn: issued.CertificateArn! }));
  await client.send(
    new ImportCertificateAuthorityCertificateCommand({ CertificateAuthorityArn: arn, Certificate: Buffer.from(root.Certificate!) }),
  );
  return root.Certificate!;
}
