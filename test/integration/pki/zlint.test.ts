// zlint (built by test/infra) over every kind of certificate rekey issues: each key type as root, intermediate and
// leaf, each leaf usage, and a per-replica leaf. No lint of the RFCs (5280 and the algorithm RFCs it relies on)
// may report an error or fatal. Lints from CA/Browser Forum and browser or trust-store programmes are not run:
// they govern publicly trusted WebPKI certificates (serial entropy rules, maximum validity, required
// AIA/CRL/policy extensions, subject field rules) and rekey issues private CAs for workloads, which do not meet
// them on purpose (no OCSP/CRL infrastructure, multi-year private roots, Ed25519 keys).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import { issueMaterial, issuerMaterialOf, type IssuerMaterial } from '../../../shared/domain/pki/issue.js';
import { KEY_TYPES, USAGES } from '../../../shared/domain/inventory/schema.js';
import { specHashOf, unitsOf } from '../../../shared/domain/units.js';
import { loadInfraEnv } from '../../infra/env.js';

const env = loadInfraEnv({ require: ['zlint'] });
const work = mkdtempSync(join(tmpdir(), 'rekey-zlint-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Lint sources not run, and why (see the header). */
const EXCLUDED_SOURCES = {
  CABF_BR: 'CA/Browser Forum Baseline Requirements: publicly trusted TLS certificates only',
  CABF_EV: 'CA/Browser Forum EV guidelines: extended-validation certificates only',
  CABF_SMIME_BR: 'CA/Browser Forum S/MIME requirements: e-mail certificates only',
  CABF_CS_BR: 'CA/Browser Forum code-signing requirements: code-signing certificates only',
  Apple: "Apple's root program: publicly trusted certificates only",
  Chrome: "Chrome's root program: publicly trusted certificates only",
  Mozilla: "Mozilla's root store policy: publicly trusted certificates only",
  ETSI_ESI: 'ETSI qualified certificates (eIDAS) only',
} as const;

const name = (t: string) => t.toLowerCase();
const inventory = loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: lint}
authorities:
${KEY_TYPES.map(
  (t) => `  - {name: root-${name(t)}, commonName: lint root ${t}, organization: [rekey], key: ${t}, validity: 87600h}
  - {name: inter-${name(t)}, commonName: lint intermediate ${t}, key: ${t}, validity: 43800h, parent: root-${name(t)}, pathLen: 0}`,
).join('\n')}
certificates:
${KEY_TYPES.flatMap((t) => USAGES.map((u) => `  - {name: ${u}-${name(t)}, issuer: inter-${name(t)}, usage: ${u}, key: ${t}, commonName: ${u}.lint.test, dnsNames: [${u}.lint.test], ipAddresses: [127.0.0.1], secret: {name: ${u}-${name(t)}, namespace: lint}}`)).join('\n')}
  - {name: db, issuer: inter-ecdsa-p256, usage: server, commonName: db, perReplica: {statefulSet: db, replicas: 2}, secret: {name: db, namespace: lint}}
`);

const now = new Date();
const issuers = new Map<string, IssuerMaterial>();
const issued: { unit: string; pem: string }[] = [];
for (const a of inventory.authorities.filter((x) => !x.parent).concat(inventory.authorities.filter((x) => x.parent))) {
  const unit = unitsOf(inventory, a)[0]!;
  const m = issueMaterial(unit, a.parent ? issuers.get(a.parent) : undefined, now, specHashOf(unit));
  issuers.set(a.name, issuerMaterialOf(a.name, m, !a.parent));
  issued.push({ unit: unit.key, pem: m.cert });
}
for (const c of inventory.certificates) {
  for (const unit of unitsOf(inventory, c))
    issued.push({ unit: unit.key, pem: issueMaterial(unit, issuers.get(c.issuer), now, specHashOf(unit)).cert });
}

describe('zlint over every certificate kind', () => {
  it('covers 6 roots, 6 intermediates, 18 (key type, usage) leaves and 2 per-replica leaves', () => {
    expect(issued).toHaveLength(32);
  });

  it.each(issued)('$unit: no error or fatal lint', ({ unit, pem }) => {
    // Prepare
    const file = join(work, `${unit.replace('/', '-')}.pem`);
    writeFileSync(file, pem);
    // Act
    const r = spawnSync(env.zlintPath, ['-excludeSources', Object.keys(EXCLUDED_SOURCES).join(','), file], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    // Assess
    expect(r.status, r.stderr).toBe(0);
    const results = JSON.parse(r.stdout) as Record<string, { result: string; details?: string }>;
    expect(Object.keys(results).length).toBeGreaterThan(50);
    const bad = Object.entries(results)
      .filter(([, v]) => v.result === 'error' || v.result === 'fatal')
      .map(([k, v]) => `${k}: ${v.result}${v.details ? ` (${v.details})` : ''}`);
    expect(bad).toEqual([]);
  });
});
