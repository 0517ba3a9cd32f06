import type { Command } from 'commander';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { RekeyError, UsageError } from '../../shared/domain/errors.js';
import { generateKeyPair, privateKeyToPem } from '../../shared/domain/pki/keys.js';
import { out, printJson, type CliContext } from '../context.js';
import { defined } from '../../shared/domain/defined.js';

interface EnrolOptions {
  profile: string;
  key: string;
  out: string;
  url: string;
  name?: string[];
  tokenEnv: string;
  cacert?: string;
  renew?: boolean;
}

/** How the call proves who asks: a bearer token, or (renewal) the current certificate and its key over mTLS. */
type Proof = { readonly token: string } | { readonly cert: string; readonly key: string };

function post(url: URL, body: string, proof: Proof, ca: string | undefined): Promise<{ status: number; json: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...('token' in proof && { authorization: `Bearer ${proof.token}` }) },
        ...('cert' in proof && { cert: proof.cert, key: proof.key }),
        ...(ca && { ca }),
        timeout: 30_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, string> });
          } catch {
            reject(new RekeyError(`${url.href}: answered ${res.statusCode} without JSON`));
          }
        });
      },
    );
    req.on('error', (e) => reject(new RekeyError(`${url.href}: ${e.message}`, { cause: e, retryable: true })));
    req.end(body);
  });
}

/** The DNS names of a certificate (its SANs, else its CN), for a renewal that keeps them. */
function namesOf(cert: X509Certificate): string[] {
  const sans = (cert.subjectAltName ?? '')
    .split(', ')
    .filter((n) => n.startsWith('DNS:'))
    .map((n) => n.slice(4));
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  return [...new Set([...(cn ? [cn] : []), ...sans])];
}

/**
 * `rekey enrol`: a service's own enrolment (seed 004's PEM agent). Uses the key in --key (made, mode 0600, when the
 * file does not exist), sends only a CSR to POST /v1/enrol with the token from $REKEY_TOKEN, writes tls.crt (leaf +
 * chain) and ca.crt into --out. Run it again before expiry to renew with the same key; with --renew the current
 * --out/tls.crt and --key are the proof (mTLS to POST /v1/enrol/renew) and no token is needed.
 */
export function registerEnrol(cli: Command, ctx: CliContext): void {
  cli
    .command('enrol')
    .description('get a certificate for a key that never leaves this host: CSR to POST /v1/enrol, certificate into --out')
    .requiredOption('--profile <name>', 'enrolment profile of the inventory')
    .requiredOption('--key <file>', 'private key (PEM); made with mode 0600 when missing')
    .requiredOption('--out <dir>', 'where tls.crt and ca.crt are written')
    .requiredOption('--url <url>', 'the rekey API, e.g. https://rekey.example:8628')
    .option(
      '--name <dns>',
      'DNS name for the certificate (CN is the first); repeat for more (with --renew: default the current names)',
      (v: string, all: string[] | undefined) => [...(all ?? []), v],
    )
    .option('--renew', 'renew with the current certificate (--out/tls.crt) and --key as proof over mTLS, no token')
    .option('--token-env <var>', 'environment variable holding the bearer token', 'REKEY_TOKEN')
    .option('--cacert <file>', "PEM of the CA that signed the API's TLS certificate")
    .action(async (o: EnrolOptions) => {
      let proof: Proof;
      let currentNames: string[] = [];
      if (o.renew) {
        const certFile = join(o.out, 'tls.crt');
        if (!existsSync(certFile) || !existsSync(o.key))
          throw new UsageError(`--renew needs the current certificate ${certFile} and its key ${o.key}`);
        const cert = readFileSync(certFile, 'utf8');
        let current: X509Certificate;
        try {
          current = new X509Certificate(cert);
        } catch {
          throw new UsageError(`${certFile}: not a PEM certificate`);
        }
        currentNames = namesOf(current);
        proof = { cert, key: readFileSync(o.key, 'utf8') };
      } else {
        const token = process.env[o.tokenEnv];
        if (!token) throw new UsageError(`no token: set ${o.tokenEnv} (rekey token --scope enrol:${o.profile})`);
        proof = { token };
      }
      let url: URL;
      try {
        url = new URL(o.renew ? '/v1/enrol/renew' : '/v1/enrol', o.url);
      } catch {
        throw new UsageError(`--url ${o.url}: not a URL`);
      }
      if (url.protocol !== 'https:') throw new UsageError('--url must be https://');
      let keyPem: string;
      if (existsSync(o.key)) keyPem = readFileSync(o.key, 'utf8');
      else {
        keyPem = privateKeyToPem(generateKeyPair('ECDSA-P256').privateKey);
        writeFileSync(o.key, keyPem, { mode: 0o600, flag: 'wx' });
      }
      let privateKey;
      try {
        privateKey = createPrivateKey(keyPem);
      } catch {
        throw new UsageError(`--key ${o.key}: not a PEM private key`);
      }
      const names = o.name ?? currentNames;
      const [first] = names;
      if (!first) throw new UsageError('give at least one --name');
      // Loaded here: the CSR is built with node-forge, which every other command would load for nothing.
      const { buildCsr } = await import('../../shared/domain/pki/csr.js');
      const csr = buildCsr({ subject: { commonName: first }, privateKey, altNames: { dnsNames: names, ipAddresses: [], uris: [] } });
      const res = await post(
        url,
        JSON.stringify({ profile: o.profile, csr }),
        proof,
        o.cacert ? readFileSync(o.cacert, 'utf8') : undefined,
      );
      if (res.status !== 200)
        throw new RekeyError(
          `${o.renew ? 'renewal' : 'enrolment'} refused (${res.status}): ${res.json.detail ?? res.json.title ?? 'no detail'}`,
        );
      mkdirSync(o.out, { recursive: true, mode: 0o700 });
      writeFileSync(join(o.out, 'tls.crt'), defined(res.json.certificate) + (res.json.chain ?? ''));
      writeFileSync(join(o.out, 'ca.crt'), res.json.ca ?? '');
      if (ctx.globals().json)
        printJson({ serial: res.json.serial, notAfter: res.json.notAfter, cert: join(o.out, 'tls.crt'), ca: join(o.out, 'ca.crt') });
      else
        out(
          `${o.renew ? 'renewed' : 'enrolled'}: serial ${res.json.serial}, valid until ${res.json.notAfter}; ${join(o.out, 'tls.crt')}, ${join(o.out, 'ca.crt')}`,
        );
    });
}
