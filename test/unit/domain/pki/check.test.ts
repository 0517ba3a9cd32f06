import { beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../../../shared/domain/inventory/model.js';
import { checkCertificateMaterial } from '../../../../shared/domain/pki/check.js';
import { issueMaterial, type IssuerMaterial } from '../../../../shared/domain/pki/issue.js';
import type { CertificateMaterial } from '../../../../shared/domain/store/material.js';
import { specHashOf, type Unit } from '../../../../shared/domain/units.js';
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
