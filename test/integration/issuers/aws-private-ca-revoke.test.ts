// Revocation of certificates an AWS Private CA signed (moto's acm-pca): rekey cannot sign a CRL with that CA's key,
// so it revokes at the CA (RevokeCertificate) and records the revocation, which refuses renewals; the profile's CRL
// route names the CA that publishes the CRL, and where when the CA's CRL is enabled.
import { GetCertificateCommand, UpdateCertificateAuthorityCommand, type ACMPCAClient } from '@aws-sdk/client-acm-pca';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeLocal } from '../../../cli/compose.js';
import { pcaSerial, PrivateCaIssuer } from '../../../shared/adapters/aws/private-ca-issuer.js';
import { enrol, readEnrolment, renewEnrolment, RenewalRefusedError } from '../../../shared/app/enrol.js';
import { enrolmentCrl, enrolProfile, revokeEnrolled } from '../../../shared/app/enrol-revocation.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import { buildCsr } from '../../../shared/domain/pki/csr-build.js';
import { silentLogger as silent } from '../../../shared/ports/logger.js';
import { opensslCsr as makeCsr } from '../../fixtures/openssl.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { useMoto } from '../aws/moto.js';
import { createActiveRootCa } from './private-ca.js';
import { nodeKeyPair } from '../../fixtures/keys.js';

let dir: string;
let arn: string;
let client: ACMPCAClient;

beforeAll(async () => {
  await useMoto();
  dir = await makeTempDir('rekey-pca-revoke-');
  ({ arn, client } = await createActiveRootCa(`revoke-ca-${Date.now()}`));
});
afterAll(async () => {
  if (dir) await removeTempDir(dir);
});

const inventory = () =>
  loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: pca-revoke}
authorities:
  - {name: corp-ca, commonName: corp-ca, external: {awsPrivateCa: {arn: "${arn}", signingAlgorithm: SHA256WITHRSA}}}
enrol:
  - {name: corp-clients, issuer: corp-ca, usage: client, allowedNames: ["*.corp.internal"], validity: 720h, tokenScope: "enrol:corp-clients"}
`);

const opensslCsr = (name: string, keyFile?: string) => makeCsr(dir, name, `/CN=${name}`, `DNS:${name}`, keyFile);

describe('revocation under an AWS Private CA on moto', () => {
  it('the adapter revokes at the CA: RevokeCertificate with the serial as hex bytes and the reason; the CA then reports the certificate revoked', async () => {
    // Prepare: the issued certificate's ARN, seen on the way out, to ask the CA about it afterwards.
    const issuer = new PrivateCaIssuer({ arn, signingAlgorithm: 'SHA256WITHRSA', authority: 'corp-ca', client });
    const issuedArns: string[] = [];
    client.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        const output = result.output as { CertificateArn?: string };
        if (output.CertificateArn) issuedArns.push(output.CertificateArn);
        return result;
      },
      { step: 'initialize', name: 'capturedCertificateArn' },
    );
    const { privateKey, publicKey } = nodeKeyPair('ec', { namedCurve: 'P-256' });
    const sign = () =>
      issuer.sign(
        {
          label: 'revoke test',
          subject: { commonName: 'svc.corp.internal' },
          publicKey,
          csrPem: () => buildCsr({ subject: { commonName: 'svc.corp.internal' }, privateKey, altNames: altNames() }),
          altNames: altNames(),
          names: ['svc.corp.internal'],
          usage: 'client',
          validityMs: 86_400_000,
          idempotencyKey: `revoke-${Date.now()}-${Math.random()}`,
        },
        {
          now: new Date(),
          materials: { issuer: () => Promise.reject(new Error('unused')), authorityCurrent: () => Promise.resolve(undefined) },
        },
      );
    // moto keys its revocations by its own spelling of the serial, which drops a leading zero nibble: a serial whose
    // hex starts with 0 would be revoked under another key there (AWS reads the number). Take one that does not.
    let signed = await sign();
    while (pcaSerial(signed.cert).startsWith('0')) signed = await sign();
    const certificateArn = issuedArns[issuedArns.length - 1]!;

    // Act
    const revoked = await issuer.revoke({ serial: signed.serial, pem: signed.cert, reason: 'keyCompromise' });
    const again = await issuer.revoke({ serial: signed.serial, pem: signed.cert, reason: 'keyCompromise' });

    // Assess
    expect(revoked.calls).toBe(1);
    expect(again.calls).toBe(1);
    const read = await client.send(new GetCertificateCommand({ CertificateAuthorityArn: arn, CertificateArn: certificateArn })).then(
      () => 'readable',
      (e: unknown) => (e as Error).message,
    );
    expect(read).toContain('revoked with reason: KEY_COMPROMISE');
  });

  it('an enrolled certificate: a CA that refuses (disabled) leaves it unrevoked; once the CA revokes, the record says so, renewal with it is refused, and the CRL route names the CA and its CRL URL', async () => {
    // Prepare
    const inv = inventory();
    const profile = enrolProfile(inv, 'corp-clients');
    const rt = await composeLocal(inv, { stateDir: join(dir, 'state'), target: { kind: 'none' }, log: silent });
    try {
      const first = opensslCsr('db1.corp.internal');
      const enrolled = await enrol(rt.deps, inv, { profile, csrPem: first.csr, requester: 'pem-agent' });
      await client.send(new UpdateCertificateAuthorityCommand({ CertificateAuthorityArn: arn, Status: 'DISABLED' }));

      // Act
      const refusedByCa = await revokeEnrolled(rt.deps, inv, {
        profile,
        serial: enrolled.serial,
        reason: 'keyCompromise',
        by: 'secops',
      }).then(
        () => new Error('revoked'),
        (e: unknown) => e as Error,
      );
      const afterRefusal = await readEnrolment(rt.deps, inv.name, profile.name, enrolled.serial);
      await client.send(
        new UpdateCertificateAuthorityCommand({
          CertificateAuthorityArn: arn,
          Status: 'ACTIVE',
          RevocationConfiguration: {
            CrlConfiguration: { Enabled: true, ExpirationInDays: 7, S3BucketName: 'corp-crl', CustomCname: 'crl.corp.example' },
          },
        }),
      );
      const done = await revokeEnrolled(rt.deps, inv, { profile, serial: enrolled.serial, reason: 'keyCompromise', by: 'secops' });
      const renewal = await renewEnrolment(rt.deps, inv, {
        profile,
        csrPem: opensslCsr('db1.corp.internal', first.key).csr,
        clientCertificate: enrolled.certificate,
      }).catch((e: unknown) => e as Error);
      const crl = await enrolmentCrl(rt.deps, inv, profile);

      // Assess
      expect(refusedByCa.message).toMatch(/RevokeCertificate .*the CA is not active/);
      expect(afterRefusal?.record.revoked).toBeUndefined();
      expect(done.changed).toBe(true);
      expect(done.record.revoked).toMatchObject({ reason: 'keyCompromise', by: 'secops' });
      expect(renewal).toBeInstanceOf(RenewalRefusedError);
      expect(crl).toEqual({
        kind: 'elsewhere',
        publisher: `AWS Private CA ${arn}`,
        url: `http://crl.corp.example/crl/${arn.split('/').pop()}.crl`,
      });
    } finally {
      await rt.close();
    }
  });
});

const altNames = () => ({ dnsNames: ['svc.corp.internal'], ipAddresses: [], uris: [] });
