import { createHash, createHmac } from 'node:crypto';

type Digester = ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, Checksum, SourceData } from '@smithy/types';

/** Prefix of the bearer tokens EKS accepts (what `aws eks get-token` prints). */
export const EKS_TOKEN_PREFIX = 'k8s-aws-v1.';
/** The header that binds a token to one cluster. */
export const CLUSTER_ID_HEADER = 'x-k8s-aws-id';
/** EKS accepts presigned URLs valid for up to 15 minutes; the CLI signs for 60 seconds. */
const EXPIRES_IN_SECONDS = 60;

/** SHA-256 (or HMAC-SHA-256 with a key) on node:crypto, in the Checksum shape SignatureV4 wants. */
class Sha256 implements Checksum {
  private hash: Digester;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  private fresh(): Digester {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(this.secret));
  }
  update(data: Uint8Array | string): void {
    this.hash.update(toBytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

function toBytes(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

export interface EksTokenInput {
  /** The EKS cluster's name (not the inventory's name for it). */
  readonly clusterName: string;
  readonly region: string;
  readonly credentials: AwsCredentialIdentity;
  /** Signing time (default now). */
  readonly now?: Date;
}

/**
 * A Kubernetes bearer token for EKS, as `aws eks get-token` makes it: an STS GetCallerIdentity URL presigned with
 * SigV4 (the cluster name signed in as the `x-k8s-aws-id` header, valid 60 s), base64url without padding, prefixed
 * `k8s-aws-v1.`. Pure apart from the clock: no call is made.
 */
export async function eksToken(input: EksTokenInput): Promise<string> {
  const host = `sts.${input.region}.amazonaws.com`;
  const signer = new SignatureV4({
    service: 'sts',
    region: input.region,
    credentials: input.credentials,
    sha256: Sha256,
    uriEscapePath: true,
    applyChecksum: false,
  });
  const signed = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname: host,
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host, [CLUSTER_ID_HEADER]: input.clusterName },
    },
    { expiresIn: EXPIRES_IN_SECONDS, ...(input.now && { signingDate: input.now }) },
  );
  const query = Object.entries(signed.query ?? {})
    .flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x] as const) : v === null ? [] : [[k, v] as const]))
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  const url = `https://${host}/?${query}`;
  return EKS_TOKEN_PREFIX + Buffer.from(url, 'utf8').toString('base64url');
}

/**
 * Tokens per inventory cluster, refreshed before they expire (EKS tokens live 15 minutes; this keeps one for 10).
 * `clusterNames` maps inventory cluster names to EKS cluster names (default: the same).
 */
export function eksTokenProvider(options: {
  region: string;
  credentials: () => Promise<AwsCredentialIdentity>;
  clusterNames?: Readonly<Record<string, string>>;
  now?: () => Date;
}): (cluster: string) => Promise<string> {
  const now = options.now ?? (() => new Date());
  const cache = new Map<string, { token: string; until: number }>();
  return async (cluster) => {
    const hit = cache.get(cluster);
    const t = now();
    if (hit && hit.until > t.getTime()) return hit.token;
    const token = await eksToken({
      clusterName: options.clusterNames?.[cluster] ?? cluster,
      region: options.region,
      credentials: await options.credentials(),
      now: t,
    });
    cache.set(cluster, { token, until: t.getTime() + 10 * 60_000 });
    return token;
  };
}
