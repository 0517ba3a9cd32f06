import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, get } from 'node:https';
import { rootCertificates } from 'node:tls';
import acme from 'acme-client';
import { reasonCode, type RevocationReason } from '../../domain/enrol/record.js';
import { RekeyError, TransientError } from '../../domain/errors.js';
import { IssuerKind, type ServedChain } from '../../ports/issuer.js';
import { ExternalIssuer, type CsrSignRequest, type SignedChain } from '../issuers/external-issuer.js';
import { Stage, type SecretStore } from '../../ports/secret-store.js';

/** Where dns-01 answers are published (Route 53 in rekey; any DNS with an API would do). */
export interface TxtRecords {
  /** Publishes `value` at `name` and resolves when the DNS serves it (Route 53: the change is INSYNC). */
  upsert(name: string, value: string): Promise<void>;
  remove(name: string, value: string): Promise<void>;
}

export interface AcmeIssuerOptions {
  readonly authority: string;
  readonly directory: string;
  readonly email: string;
  /** External account binding: key id and where its HMAC key (base64url) is read from (env:VAR or file:PATH). */
  readonly eab?: { readonly kid: string; readonly hmacKeyFrom: string };
  /** URL of the CA's roots (PEM) for the trust bundle. */
  readonly roots?: string;
  readonly dns: TxtRecords;
  /** Wait this long after a TXT record is in sync before asking the CA to validate (default 0). */
  readonly propagationDelayMs?: number;
  readonly store: SecretStore;
  /** Store name of the ACME account key (made on first use, kept like any other secret). */
  readonly accountKeyName: string;
  /** PEM of a CA to trust for the directory's HTTPS besides the system roots (a company ACME server, pebble). */
  readonly caCert?: string;
}

// acme-client sends every request through one shared axios instance: the count of requests it made is read before
// and after an issuance (the measurement is exact when one issuance runs at a time, as in the bench).
let acmeRequests = 0;
acme.axios.interceptors.request.use((config) => {
  acmeRequests++;
  return config;
});
// acme-client retries a failed request (network error, 429, 5xx) 5 times, 5 s more apart each time (75 s): rekey
// retries the whole issuance with its own backoff (withBackoff, then the step machine), so one quick retry here.
(
  acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number; retryDefaultDelay: number } }
).acmeSettings.retryMaxAttempts = 1;
(
  acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number; retryDefaultDelay: number } }
).acmeSettings.retryDefaultDelay = 1;

function readSecretRef(ref: string): string {
  const [kind, ...rest] = ref.split(':');
  const where = rest.join(':');
  const value = kind === 'env' ? process.env[where] : readFileSync(where, 'utf8');
  if (!value) throw new RekeyError(`ACME external account binding key ${ref} is empty or missing`);
  return value.trim();
}

/** The HTTP status of an ACME error (acme-client keeps the problem document's status on the error), if any. */
function statusOf(e: unknown): number | undefined {
  const err = e as { status?: number; response?: { status?: number }; code?: string };
  return err.response?.status ?? err.status;
}

/**
 * An ACME CA (RFC 8555) as an external authority: account (key kept in rekey's store), order for the certificate's
 * DNS names, dns-01 answered through `TxtRecords`, finalize with rekey's CSR, download the chain; revocation signed
 * with the same account (RFC 8555 §7.6). acme-client does the protocol (JWS, nonces, polling).
 */
export class AcmeIssuer extends ExternalIssuer {
  readonly kind = IssuerKind.Acme;
  private client: Promise<acme.Client> | undefined;

  constructor(private readonly options: AcmeIssuerOptions) {
    super(options.authority);
    if (options.caCert) {
      // Trust the given CA for the ACME server (and the roots URL) besides the system roots.
      acme.axios.defaults.httpsAgent = new Agent({ ca: [...rootCertificates, options.caCert] });
    }
  }

  private async accountKey(): Promise<string> {
    const name = this.options.accountKeyName;
    const current = await this.options.store.getVersion(name, { stage: Stage.Current });
    if (current) return (JSON.parse(current.value) as { key: string }).key;
    const key = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
    const versionId = randomUUID();
    await this.options.store.putPending(name, versionId, JSON.stringify({ type: 'acme-account', key }), {
      description: `rekey ACME account key of authority ${this.options.authority}`,
    });
    await this.options.store.promote(name, versionId);
    return key;
  }

  private clientOf(): Promise<acme.Client> {
    this.client ??= this.accountKey().then(
      (accountKey) =>
        new acme.Client({
          directoryUrl: this.options.directory,
          accountKey,
          backoffAttempts: 10,
          backoffMin: 200,
          backoffMax: 5_000,
          ...(this.options.eab && {
            externalAccountBinding: { kid: this.options.eab.kid, hmacKey: readSecretRef(this.options.eab.hmacKeyFrom) },
          }),
        }),
    );
    return this.client;
  }

  private fail(e: unknown, what: string): RekeyError {
    if (e instanceof RekeyError) return e;
    const message = e instanceof Error ? e.message : String(e);
    const status = statusOf(e);
    const code = (e as NodeJS.ErrnoException).code;
    const where = `ACME ${what} (authority ${this.options.authority}, ${this.options.directory})`;
    if (status === 429 || /rate.?limit|too many/i.test(message))
      return new TransientError(`${where}: rate-limited: ${message}`, { cause: e });
    // acme-client 5.4 loses a network error once its own retries are spent (its interceptor then reads `config` of
    // a missing response): that TypeError means no answer came.
    const lostNetworkError = e instanceof TypeError && /reading 'config'/.test(message);
    if (
      lostNetworkError ||
      (status !== undefined && status >= 500) ||
      ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH'].includes(code ?? '')
    ) {
      return new TransientError(`${where}: unreachable or failing: ${lostNetworkError ? 'no answer' : message}`, { cause: e });
    }
    // acme-client throws the problem document's detail as the message, without its type or status.
    if (status === 401 || status === 403 || /unauthorized|rejected|forbidden|not allowed|externalAccountRequired|denied/i.test(message)) {
      return new RekeyError(`${where}: denied: ${message}`, { cause: e });
    }
    return new RekeyError(`${where}: ${message}`, { cause: e });
  }

  async signCsr(request: CsrSignRequest): Promise<SignedChain> {
    if (request.dnsNames.length === 0)
      throw new RekeyError(`ACME (authority ${this.options.authority}) issues for DNS names only: the certificate has none`);
    const before = acmeRequests;
    const published: [string, string][] = [];
    try {
      const client = await this.clientOf();
      const pem = await client.auto({
        csr: request.csrPem,
        email: this.options.email,
        termsOfServiceAgreed: true,
        challengePriority: ['dns-01'],
        // The TXT record is written through the DNS API and the change awaited; the CA's own lookup is the check.
        skipChallengeVerification: true,
        challengeCreateFn: async (authz, _challenge, keyAuthorization) => {
          const name = `_acme-challenge.${authz.identifier.value.replace(/^\*\./, '')}`;
          await this.options.dns.upsert(name, keyAuthorization);
          published.push([name, keyAuthorization]);
          // Resolvers the CA asks may lag behind the DNS API's "in sync" (secondaries, caches): wait if told to.
          if (this.options.propagationDelayMs) await new Promise((r) => setTimeout(r, this.options.propagationDelayMs));
        },
        challengeRemoveFn: async () => {},
      });
      const [cert, ...rest] = pem.split(/(?=-----BEGIN CERTIFICATE-----)/);
      return { cert: cert ?? '', chain: rest.join(''), calls: acmeRequests - before };
    } catch (e) {
      throw this.fail(e, 'order');
    } finally {
      // The answers are useless after the order: removed whatever happened (a failure here only leaves a TXT record).
      for (const [name, value] of published) await this.options.dns.remove(name, value).catch(() => undefined);
    }
  }

  async readChain(): Promise<ServedChain> {
    if (!this.options.roots)
      throw new RekeyError(
        `authority "${this.options.authority}": an ACME authority needs \`roots\` (URL of the CA's root certificates) for its trust bundle`,
      );
    try {
      return { roots: await this.fetchText(this.options.roots), intermediates: '' };
    } catch (e) {
      throw this.fail(e, `GET ${this.options.roots}`);
    }
  }

  /** revokeCert with the account that ordered the certificate; one the CA already revoked is no error. */
  async revokeAtCa(_serial: string, pem: string, reason: RevocationReason): Promise<{ calls: number }> {
    const before = acmeRequests;
    try {
      const client = await this.clientOf();
      // The account URL is learnt from the CA (an existing account answers 200) before a kid-signed request.
      await client.createAccount({ termsOfServiceAgreed: true, contact: [`mailto:${this.options.email}`] });
      await client.revokeCertificate(pem, { reason: reasonCode(reason) });
    } catch (e) {
      if (!/already revoked/i.test(e instanceof Error ? e.message : String(e))) throw this.fail(e, 'revokeCert');
    }
    return { calls: acmeRequests - before };
  }

  /** ACME has no CRL endpoint: the CA publishes its CRLs where its certificates say (their CRL Distribution Points). */
  crlLocation(): Promise<{ publisher: string; url?: string }> {
    return Promise.resolve({ publisher: `the ACME CA ${this.options.directory}` });
  }

  private fetchText(url: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const agent = acme.axios.defaults.httpsAgent as Agent | undefined;
      get(url, { ...(agent && { agent }), timeout: 10_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () =>
          res.statusCode === 200 ? resolve(body) : reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })),
        );
      }).on('error', reject);
    });
  }
}
