// The optional mutual TLS custom domain of serverless.yml (certificate-based enrolment renewal on AWS), packaged
// offline with its parameters; serverless-package.test.ts packages without them and checks that nothing is created.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { conditionHolds, resolveConditions, serverlessPackage, type CloudFormationTemplate } from './sls-package.js';

const DOMAIN = 'rekey-api.example.com';
const CERTIFICATE = 'arn:aws:acm:us-east-1:111122223333:certificate/0f0e0d0c-1111-2222-3333-444455556666';
const TRUSTSTORE = 's3://rekey-truststores/apiconnect/truststore.pem';
const TRUSTSTORE_VERSION = '3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo';

let dir: string;
let template: CloudFormationTemplate;

beforeAll(async () => {
  dir = await makeTempDir('rekey-sls-domain-');
  template = await serverlessPackage(dir, {
    apiDomainName: DOMAIN,
    apiCertificateArn: CERTIFICATE,
    apiTruststoreUri: TRUSTSTORE,
    apiTruststoreVersion: TRUSTSTORE_VERSION,
    apiDisableDefaultEndpoint: 'true',
  });
}, 300_000);
afterAll(() => removeTempDir(dir));

describe('serverless package with the mutual TLS domain parameters', () => {
  it('declares the custom domain with mutual TLS on the truststore (URI and version) and the ACM certificate', () => {
    // Act
    const domains = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::ApiGatewayV2::DomainName');

    // Assess
    expect(conditionHolds(template, 'HasApiDomain')).toBe(true);
    expect(domains.map(([name]) => name)).toEqual(['ApiDomainName']);
    expect(resolveConditions(template, domains[0]![1].Properties)).toEqual({
      DomainName: DOMAIN,
      DomainNameConfigurations: [{ CertificateArn: CERTIFICATE, EndpointType: 'REGIONAL', SecurityPolicy: 'TLS_1_2' }],
      MutualTlsAuthentication: { TruststoreUri: TRUSTSTORE, TruststoreVersion: TRUSTSTORE_VERSION },
    });
  });

  it("maps the domain to the HTTP API's stage and outputs the name its DNS record points to", () => {
    // Act
    const mappings = Object.values(template.Resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::ApiMapping');

    // Assess
    expect(mappings.map((m) => m.Properties)).toEqual([
      { ApiId: { Ref: 'HttpApi' }, DomainName: { Ref: 'ApiDomainName' }, Stage: { Ref: 'HttpApiStage' } },
    ]);
    expect(template.Resources.HttpApi?.Type).toBe('AWS::ApiGatewayV2::Api');
    expect(template.Resources.HttpApiStage?.Type).toBe('AWS::ApiGatewayV2::Stage');
    expect(template.Outputs?.ApiDomainTarget?.Value).toEqual({ 'Fn::GetAtt': ['ApiDomainName', 'RegionalDomainName'] });
  });

  it('turns off the default execute-api endpoint, so requests reach the functions through the mTLS domain only', () => {
    expect(resolveConditions(template, template.Resources.HttpApi!.Properties.DisableExecuteApiEndpoint)).toBe(true);
  });
});
