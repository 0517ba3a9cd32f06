/**
 * Leaf issuance per issuer, in one run: rekey's own CA (in process), AWS Private CA on moto (IssueCertificate +
 * GetCertificate with rekey's CSR) and ACME on pebble (order, dns-01 through Route 53 on moto, finalize, download).
 * Time and calls per certificate; writes bench-results/issuers.json. Needs the test services (moto, pebble):
 *
 *   npx tsx test/bench/issuers.ts        (or `npm run bench -- --issuers`)
 */
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { AcmeIssuer, type TxtRecords } from '../../shared/adapters/acme/acme-issuer.js';
import { PrivateCaIssuer } from '../../shared/adapters/aws/private-ca-issuer.js';
import { OwnCaIssuer } from '../../shared/adapters/issuers/own-ca-issuer.js';
import { Route53TxtRecords } from '../../shared/adapters/aws/route53-txt.js';
import { FileVault } from '../../shared/adapters/local/file-vault.js';
import { leafMaterial } from '../../shared/app/issuers/leaf.js';
import { loadInventory } from '../../shared/domain/inventory/load.js';
import type { Authority } from '../../shared/domain/inventory/model.js';
import { issueMaterial, issuerMaterialOf } from '../../shared/domain/pki/issue.js';
import { specHashOf, unitsOf } from '../../shared/domain/units.js';
import type { IssueContext, Issuer } from '../../shared/ports/issuer.js';
import { loadInfraEnv } from '../infra/env.js';
import { createActiveRootCa } from '../integration/issuers/private-ca.js';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const N = { own: 200, pca: 20, acme: 5 } as const;
const env = loadInfraEnv({ require: ['moto', 'pebble'] });
const zone = `bench-${Date.now().toString(36)}.test`;

const inv = loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: bench-issuers}
authorities: [{name: own-ca, commonName: own-ca}, {name: ext-ca, commonName: ext-ca, external: {awsPrivateCa: {arn: "arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/x", signingAlgorithm: SHA256WITHRSA}}}]
certificates:
  - {name: leaf, issuer: own-ca, usage: server, commonName: leaf.${zone}, dnsNames: [leaf.${zone}], secret: {name: leaf, namespace: a}}
`);
const leafUnit = unitsOf(inv, inv.certificates[0]!)[0]!;
const spec = specHashOf(leafUnit);

async function timed(n: number, one: (i: number) => Promise<number>): Promise<{ msPerCert: number; callsPerCert: number }> {
  let calls = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) calls += await one(i);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return { msPerCert: ms / n, callsPerCert: calls / n };
}

/** Leaves through an issuer (the same path as apply's), with the CA calls it reported and those `counted` saw. */
async function viaIssuer(
  issuer: Issuer,
  n: number,
  ctx: IssueContext,
  counted?: () => number,
): Promise<{ msPerCert: number; callsPerCert: number }> {
  let reported = 0;
  const counting = Object.assign(Object.create(issuer) as Issuer, {
    sign: async (...args: Parameters<Issuer['sign']>) => {
      const signed = await issuer.sign(...args);
      reported += signed.calls;
      return signed;
    },
  });
  return timed(n, async (i) => {
    const before = { reported, counted: counted?.() ?? 0 };
    await leafMaterial(counting, leafUnit, spec, `bench-${i}-${randomBytes(4).toString('hex')}`, ctx);
    return reported - before.reported + ((counted?.() ?? 0) - before.counted);
  });
}

// rekey's own CA: key generation and signing in process, no calls.
const ownRoot = issuerMaterialOf('own-ca', issueMaterial(unitsOf(inv, inv.authorities[0]!)[0]!, undefined, new Date(), 'x'), true);
const materials = { issuer: () => Promise.resolve(ownRoot), authorityCurrent: () => Promise.resolve(undefined) };
const ctx = (): IssueContext => ({ now: new Date(), materials });
const own = await viaIssuer(new OwnCaIssuer(inv.authorities[0] as Authority), N.own, ctx());

// AWS Private CA on moto.
const { arn } = await createActiveRootCa(`bench-ca-${Date.now()}`);
const pca = await viaIssuer(new PrivateCaIssuer({ arn, signingAlgorithm: 'SHA256WITHRSA', authority: 'ext-ca' }), N.pca, ctx());

// ACME on pebble: the TXT record goes to Route 53 on moto (counted) and, standing in for Route 53's name servers,
// straight to pebble-challtestsrv.
const route53 = new Route53Client({ region: env.aws.region });
const hz = await route53.send(new CreateHostedZoneCommand({ Name: zone, CallerReference: zone }));
let route53Calls = 0;
route53.middlewareStack.add((next) => (args) => (route53Calls++, next(args)), { step: 'initialize', name: 'benchCallCounter' });
const r53 = new Route53TxtRecords({ hostedZoneId: hz.HostedZone!.Id!.replace('/hostedzone/', ''), client: route53 });
route53Calls = 0;
const dns: TxtRecords = {
  async upsert(name, value) {
    await r53.upsert(name, value);
    await fetch(`${env.pebble.challtestsrvUrl}/set-txt`, { method: 'POST', body: JSON.stringify({ host: `${name}.`, value }) });
  },
  remove: (name, value) => r53.remove(name, value),
};
const state = mkdtempSync(join(tmpdir(), 'rekey-bench-acme-'));
const acme = await viaIssuer(
  new AcmeIssuer({
    authority: 'ext-ca',
    directory: env.pebble.directory,
    email: `ops@${zone}`,
    dns,
    store: new FileVault(join(state, 'vault'), randomBytes(32)),
    accountKeyName: 'rekey/bench/_acme/ext-ca',
    caCert: readFileSync(env.pebble.caCert, 'utf8'),
  }),
  N.acme,
  ctx(),
  () => route53Calls,
);
rmSync(state, { recursive: true, force: true });

const rows = [
  ['issuer', 'certificates', 'ms / certificate', 'calls / certificate', 'calls are'],
  ["rekey's own CA (in process)", String(N.own), own.msPerCert.toFixed(2), '0', '-'],
  [
    'AWS Private CA (moto)',
    String(N.pca),
    pca.msPerCert.toFixed(1),
    pca.callsPerCert.toFixed(1),
    'IssueCertificate + GetCertificate (+ polls)',
  ],
  [
    'ACME (pebble, dns-01 via Route 53 on moto)',
    String(N.acme),
    acme.msPerCert.toFixed(0),
    acme.callsPerCert.toFixed(1),
    'ACME HTTP requests + Route 53 calls',
  ],
];
const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
console.log(rows.map((r) => r.map((c, i) => (i === 0 || i === 4 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ')).join('\n'));
mkdirSync('bench-results', { recursive: true });
writeFileSync(
  'bench-results/issuers.json',
  JSON.stringify({ at: new Date().toISOString(), node: process.version, own, pca, acme, counts: N }, null, 2) + '\n',
);
console.log('\nwrote bench-results/issuers.json');
