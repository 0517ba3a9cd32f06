import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { eksToken, eksTokenProvider, EKS_TOKEN_PREFIX } from '../../../../shared/adapters/aws/eks-token.js';

const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const NOW = new Date('2030-01-02T03:04:05.000Z');

function decode(token: string): URL {
  expect(token.startsWith(EKS_TOKEN_PREFIX)).toBe(true);
  const b64 = token.slice(EKS_TOKEN_PREFIX.length);
  expect(b64).not.toMatch(/[=+/]/); // base64url without padding, as EKS expects
  return new URL(Buffer.from(b64, 'base64url').toString('utf8'));
}

/** SigV4 done by hand from the specification, to check the presigner's signature independently. */
function expectedSignature(url: URL, cluster: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const params = [...url.searchParams.entries()].filter(([k]) => k !== 'X-Amz-Signature').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const canonicalQuery = params.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&');
  const canonicalRequest = [
    'GET',
    '/',
    canonicalQuery,
    `host:${url.host}`,
    `x-k8s-aws-id:${cluster}`,
    '',
    'host;x-k8s-aws-id',
    createHash('sha256').update('').digest('hex'),
  ].join('\n');
  const amzDate = url.searchParams.get('X-Amz-Date')!;
  const scope = `${amzDate.slice(0, 8)}/us-east-1/sts/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
  const kSigning = hmac(hmac(hmac(hmac(`AWS4${secret}`, amzDate.slice(0, 8)), 'us-east-1'), 'sts'), 'aws4_request');
  return createHmac('sha256', kSigning).update(toSign).digest('hex');
}

describe('eksToken', () => {
  it('is a presigned STS GetCallerIdentity URL for the cluster, like `aws eks get-token`', async () => {
    // Act
    const token = await eksToken({ clusterName: 'prod-eu', region: 'us-east-1', credentials: CREDENTIALS, now: NOW });

    // Assess
    const url = decode(token);
    expect(url.origin).toBe('https://sts.us-east-1.amazonaws.com');
    expect(url.pathname).toBe('/');
    const q = Object.fromEntries(url.searchParams);
    expect(q).toMatchObject({
      Action: 'GetCallerIdentity',
      Version: '2011-06-15',
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': 'AKIDEXAMPLE/20300102/us-east-1/sts/aws4_request',
      'X-Amz-Date': '20300102T030405Z',
      'X-Amz-Expires': '60',
      'X-Amz-SignedHeaders': 'host;x-k8s-aws-id',
    });
    expect(q['X-Amz-Signature']).toMatch(/^[0-9a-f]{64}$/);
    expect(q['X-Amz-Signature']).toBe(expectedSignature(url, 'prod-eu', CREDENTIALS.secretAccessKey));
  });

  it('is deterministic for a fixed clock and credentials, and bound to the cluster name', async () => {
    // Act
    const a = await eksToken({ clusterName: 'prod-eu', region: 'us-east-1', credentials: CREDENTIALS, now: NOW });
    const b = await eksToken({ clusterName: 'prod-eu', region: 'us-east-1', credentials: CREDENTIALS, now: NOW });
    const other = await eksToken({ clusterName: 'prod-us', region: 'us-east-1', credentials: CREDENTIALS, now: NOW });

    // Assess
    expect(a).toBe(b);
    expect(other).not.toBe(a);
  });

  it('carries the session token of temporary credentials (Lambda role credentials)', async () => {
    // Act
    const token = await eksToken({
      clusterName: 'prod-eu',
      region: 'us-east-1',
      credentials: { ...CREDENTIALS, sessionToken: 'FwoGZXIvYXdzE//token' },
      now: NOW,
    });

    // Assess
    const url = decode(token);
    expect(url.searchParams.get('X-Amz-Security-Token')).toBe('FwoGZXIvYXdzE//token');
    expect(url.searchParams.get('X-Amz-Signature')).toBe(expectedSignature(url, 'prod-eu', CREDENTIALS.secretAccessKey));
  });
});

describe('eksTokenProvider', () => {
  it('maps inventory cluster names to EKS names and reuses a token for 10 minutes', async () => {
    // Prepare
    let now = NOW;
    let fetched = 0;
    const provider = eksTokenProvider({
      region: 'us-east-1',
      credentials: async () => {
        fetched++;
        return CREDENTIALS;
      },
      clusterNames: { dc1: 'prod-eu' },
      now: () => now,
    });

    // Act
    const first = await provider('dc1');
    now = new Date(NOW.getTime() + 9 * 60_000);
    const cached = await provider('dc1');
    now = new Date(NOW.getTime() + 11 * 60_000);
    const fresh = await provider('dc1');

    // Assess
    expect(cached).toBe(first);
    expect(fresh).not.toBe(first);
    expect(fetched).toBe(2);
    expect(first).toBe(await eksToken({ clusterName: 'prod-eu', region: 'us-east-1', credentials: CREDENTIALS, now: NOW }));
  });
});
