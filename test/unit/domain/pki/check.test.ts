import { beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../../../shared/domain/inventory/model.js';
import { checkCertificateMaterial } from '../../../../shared/domain/pki/check.js';
import { issueMaterial, type IssuerMaterial } from '../../../../shared/domain/pki/issue.js';
import type { CertificateMaterial } from '../../../../shared/domain/store/material.js';
import { specHashOf, type Unit } from '../../../../shared/domain/units.js';
import { OwnCaIssuer } from '../../../../shared/adapters/issuers/own-ca-issuer.js';
import { leafMaterial } from '../../../../shared/app/issuers/leaf.js';
import { issueAuthorities, pkiInventory, unitOf } from '../../../fixtures/pki.js';

const NOW = new Date('2031-02-03T04:05:06Z');
const HOUR = 3_600_000;

let inventory: Inventory;
let cas: { root: IssuerMaterial; inter: IssuerMaterial; otherRoot: IssuerMaterial };
let web: Unit;
let good: CertificateMaterial;
let otherLeaf: CertificateMaterial;

beforeAll(() => {
  inventory = pkiInventory();
  cas = issueAuthorities(inventory, NOW);
  web = unitOf(inventory, 'web');
  good = issueMaterial(web, cas.inter, NOW, specHashOf(web));
  const client = unitOf(inventory, 'client');
  otherLeaf = issueMaterial(client, cas.inter, NOW, specHashOf(client));
});

describe('checkCertificateMaterial (the rotation test step)', () => {
  it('finds nothing wrong with a freshly issued leaf, intermediate or root', () => {
    expect(checkCertificateMaterial(web, good, NOW)).toEqual([]);
    expect(checkCertificateMaterial(unitOf(inventory, 'inter'), cas.inter.material, NOW)).toEqual([]);
    expect(checkCertificateMaterial(unitOf(inventory, 'root'), cas.root.material, NOW)).toEqual([]);
  });

  it.each<{ name: string; tamper: () => { unit?: Unit; material?: Partial<CertificateMaterial>; now?: Date }; problem: RegExp }>([
    {
      name: 'wrong private key',
      tamper: () => ({ material: { key: otherLeaf.key } }),
      problem: /private key does not match the certificate/,
    },
    {
      name: 'key that does not parse',
      tamper: () => ({ material: { key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' } }),
      problem: /private key does not parse/,
    },
    {
      name: 'certificate that does not parse',
      tamper: () => ({ material: { cert: 'not a certificate' } }),
      problem: /certificate does not parse/,
    },
    {
      name: 'missing SAN the inventory asks for',
      tamper: () => ({ unit: { ...web, dnsNames: [...web.dnsNames, 'api.shop.svc'] } }),
      problem: /SAN DNS:api\.shop\.svc missing/,
    },
    {
      name: 'missing IP SAN',
      tamper: () => ({ unit: { ...web, item: { ...(web.item as object), ipAddresses: ['10.9.9.9'] } as unknown as Unit['item'] } }),
      problem: /SAN IP 10\.9\.9\.9 missing/,
    },
    {
      name: 'wrong EKU (server certificate for a client usage)',
      tamper: () => ({ unit: { ...web, item: { ...(web.item as object), usage: 'client' } as unknown as Unit['item'] } }),
      problem: /extended key usage 1\.3\.6\.1\.5\.5\.7\.3\.2 missing for usage client/,
    },
    {
      name: 'clientserver usage wants both EKUs',
      tamper: () => ({ unit: { ...web, item: { ...(web.item as object), usage: 'clientserver' } as unknown as Unit['item'] } }),
      problem: /3\.2 missing for usage clientserver/,
    },
    {
      name: 'broken chain: another root as bundle',
      tamper: () => ({ material: { ca: cas.otherRoot.material.cert } }),
      problem: /chain does not lead to a certificate in the trust bundle/,
    },
    { name: 'broken chain: intermediate missing', tamper: () => ({ material: { chain: '' } }), problem: /chain does not lead/ },
    {
      name: 'broken chain: wrong intermediate',
      tamper: () => ({ material: { chain: cas.otherRoot.material.cert } }),
      problem: /chain does not lead/,
    },
    { name: 'expired', tamper: () => ({ now: new Date(NOW.getTime() + 2161 * HOUR) }), problem: /not valid now/ },
    { name: 'not yet valid', tamper: () => ({ now: new Date(NOW.getTime() - HOUR) }), problem: /not valid now/ },
    {
      name: 'a CA certificate where a leaf is wanted',
      tamper: () => ({ material: { cert: cas.inter.material.cert, key: cas.inter.material.key, chain: '' } }),
      problem: /a leaf certificate must not be a CA/,
    },
  ])('finds $name', ({ tamper, problem }) => {
    // Prepare
    const t = tamper();
    // Act
    const problems = checkCertificateMaterial(t.unit ?? web, { ...good, ...t.material }, t.now ?? NOW);
    // Assess
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('; ')).toMatch(problem);
  });

  it('finds an authority whose certificate is not a CA', () => {
    // Act
    const problems = checkCertificateMaterial(unitOf(inventory, 'inter'), { ...good, ca: cas.root.material.cert }, NOW);
    // Assess
    expect(problems).toContain('an authority certificate must be a CA');
  });
});

describe('checkCertificateMaterial of leaves this process issued (checked from what they were built from)', () => {
  // The parsed check words validity in OpenSSL's dates ("Feb  3 ... GMT"), the check from build values in ISO 8601:
  // that tells which one ran.
  const LATER = new Date(NOW.getTime() + 2161 * HOUR);
  const fromBuildValues = /not valid now \(\d{4}-\d\d-\d\dT/;
  const parsed = /not valid now \([A-Z][a-z]{2} /;

  /** An issuer object of its own (vouching is per issuer object), and a first leaf of `unit` that passed. */
  function vouchedIssuer(unit: Unit): IssuerMaterial {
    const issuer = { ...cas.inter };
    expect(checkCertificateMaterial(unit, issueMaterial(unit, issuer, NOW, specHashOf(unit)), NOW)).toEqual([]);
    return issuer;
  }

  it('parses the first leaf of an issuer, then checks later leaves of the same shape from their build values', () => {
    // Prepare
    const client = unitOf(inventory, 'client');
    const issuer = { ...cas.inter };
    const first = issueMaterial(client, issuer, NOW, specHashOf(client));
    const second = issueMaterial(client, issuer, NOW, specHashOf(client));
    // Act
    const firstProblems = checkCertificateMaterial(client, first, LATER);
    const passed = checkCertificateMaterial(client, first, NOW);
    const secondProblems = checkCertificateMaterial(client, second, LATER);
    // Assess
    expect(firstProblems.join('; ')).toMatch(parsed);
    expect(passed).toEqual([]);
    expect(secondProblems.join('; ')).toMatch(fromBuildValues);
    expect(checkCertificateMaterial(client, second, NOW)).toEqual([]);
  });

  it("checks leaves signed through the Issuer port by rekey's own CA (the path apply and rotations take) from their build values", async () => {
    // Prepare
    const client = unitOf(inventory, 'client');
    const issuer = { ...cas.inter };
    const authority = inventory.authorities.find((a) => a.name === issuer.name)!;
    const port = new OwnCaIssuer(authority);
    const ctx = { now: NOW, materials: { issuer: () => Promise.resolve(issuer), authorityCurrent: () => Promise.resolve(undefined) } };
    const issue = (id: string) => leafMaterial(port, client, specHashOf(client), id, ctx);
    const first = await issue('v1');
    const second = await issue('v2');
    // Act
    const firstProblems = checkCertificateMaterial(client, first, LATER);
    const passed = checkCertificateMaterial(client, first, NOW);
    const secondProblems = checkCertificateMaterial(client, second, LATER);
    // Assess
    expect(firstProblems.join('; ')).toMatch(parsed);
    expect(passed).toEqual([]);
    expect(secondProblems.join('; ')).toMatch(fromBuildValues);
    expect(checkCertificateMaterial(client, second, NOW)).toEqual([]);
  });

  it('parses a copy of issued material, and a leaf of a shape not seen yet', () => {
    // Prepare
    const issuer = vouchedIssuer(web);
    const leaf = issueMaterial(web, issuer, NOW, specHashOf(web));
    const threeNames = { ...web, dnsNames: [...web.dnsNames, 'api.shop.svc'] };
    const otherShape = issueMaterial(threeNames, issuer, NOW, specHashOf(web));
    // Act / Assess
    expect(checkCertificateMaterial(web, { ...leaf }, LATER).join('; ')).toMatch(parsed);
    expect(checkCertificateMaterial(threeNames, otherShape, LATER).join('; ')).toMatch(parsed);
    expect(checkCertificateMaterial(web, leaf, LATER).join('; ')).toMatch(fromBuildValues);
  });

  it.each<{ name: string; unit: () => Unit; problem: RegExp }>([
    {
      name: 'a SAN the inventory asks for',
      unit: () => ({ ...web, dnsNames: ['web', 'other.shop.svc'] }),
      problem: /SAN DNS:other\.shop\.svc missing/,
    },
    {
      name: 'an IP SAN',
      unit: () => ({ ...web, item: { ...(web.item as object), ipAddresses: ['127.0.0.1', '10.9.9.9'] } as unknown as Unit['item'] }),
      problem: /SAN IP 10\.9\.9\.9 missing/,
    },
    {
      name: 'the EKU of the usage',
      unit: () => ({ ...web, item: { ...(web.item as object), usage: 'clientserver' } as unknown as Unit['item'] }),
      problem: /3\.2 missing for usage clientserver/,
    },
  ])('finds $name missing from the build values', ({ unit, problem }) => {
    // Prepare
    const issuer = vouchedIssuer(web);
    const leaf = issueMaterial(web, issuer, NOW, specHashOf(web));
    // Act
    const problems = checkCertificateMaterial(unit(), leaf, NOW);
    // Assess
    expect(problems.join('; ')).toMatch(problem);
  });

  it('verifies each leaf signature under the issuer certificate: a leaf signed by another key fails', () => {
    // Prepare: the vouched issuer object then signs with a key that is not its certificate's
    const client = unitOf(inventory, 'client');
    const issuer = vouchedIssuer(client);
    (issuer as { signer: IssuerMaterial['signer'] }).signer = { ...issuer.signer, privateKey: cas.otherRoot.signer.privateKey };
    const forged = issueMaterial(client, issuer, NOW, specHashOf(client));
    // Act
    const problems = checkCertificateMaterial(client, forged, NOW);
    // Assess
    expect(problems).toContain("signature does not verify under the issuer's certificate");
  });

  it('parses every authority it issued', () => {
    // Prepare
    const inter = unitOf(inventory, 'inter');
    const again = issueMaterial(inter, cas.root, NOW, specHashOf(inter));
    const afterItsValidity = new Date(NOW.getTime() + 9000 * HOUR);
    // Act / Assess
    expect(checkCertificateMaterial(inter, again, NOW)).toEqual([]);
    expect(checkCertificateMaterial(inter, again, afterItsValidity).join('; ')).toMatch(parsed);
  });
});
