import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { anchorOf, certificatesOf, fingerprintOf, rootAbove } from '../../../../shared/domain/pki/chain.js';
import { issueMaterial } from '../../../../shared/domain/pki/issue.js';
import { specHashOf } from '../../../../shared/domain/units.js';
import { issueAuthorities, pkiInventory, unitOf } from '../../../fixtures/pki.js';

const NOW = new Date();
const inventory = pkiInventory();
const cas = issueAuthorities(inventory, NOW);
const web = issueMaterial(unitOf(inventory, 'web'), cas.inter, NOW, specHashOf(unitOf(inventory, 'web')));
const both = issueMaterial(unitOf(inventory, 'both'), cas.root, NOW, specHashOf(unitOf(inventory, 'both')));
const cert = (pem: string) => new X509Certificate(pem);

describe('anchorOf: where a served chain ends', () => {
  it.each([
    [
      'leaf + intermediate, root as anchor',
      () => certificatesOf(web.cert + web.chain),
      () => [cert(cas.root.material.cert)],
      cas.root.material.cert,
    ],
    [
      'leaf + intermediate, intermediate as anchor',
      () => certificatesOf(web.cert + web.chain),
      () => [cert(cas.inter.material.cert)],
      cas.inter.material.cert,
    ],
    [
      'intermediates sent out of order, root also sent',
      () => certificatesOf(web.cert + cas.root.material.cert + web.chain),
      () => [cert(cas.root.material.cert)],
      cas.root.material.cert,
    ],
    [
      'leaf straight under the root, old and new root in the bundle',
      () => certificatesOf(both.cert),
      () => [cert(cas.otherRoot.material.cert), cert(cas.root.material.cert)],
      cas.root.material.cert,
    ],
    [
      'the anchor itself served',
      () => certificatesOf(cas.inter.material.cert),
      () => [cert(cas.inter.material.cert)],
      cas.inter.material.cert,
    ],
  ])('%s', (_name, path, anchors, expected) => {
    // Act
    const anchor = anchorOf(path(), anchors());
    // Assess
    expect(anchor && fingerprintOf(anchor)).toBe(fingerprintOf(cert(expected)));
  });

  it.each([
    ['another root', () => certificatesOf(web.cert + web.chain), () => [cert(cas.otherRoot.material.cert)]],
    ['the intermediate missing from what is served', () => certificatesOf(web.cert), () => [cert(cas.root.material.cert)]],
    ['an empty path', () => [], () => [cert(cas.root.material.cert)]],
  ])('no anchor: %s', (_name, path, anchors) => {
    // Act
    const anchor = anchorOf(path(), anchors());
    // Assess
    expect(anchor).toBeUndefined();
  });
});

describe('rootAbove', () => {
  it('finds the root of a leaf and its intermediates in the trust bundle, and nothing in a foreign bundle', () => {
    // Act
    const found = rootAbove(web.cert + web.chain, cas.otherRoot.material.cert + web.ca);
    const foreign = rootAbove(web.cert + web.chain, cas.otherRoot.material.cert);
    // Assess
    expect(found && fingerprintOf(cert(found))).toBe(cas.root.material.fingerprint);
    expect(foreign).toBeUndefined();
  });

  it('fingerprintOf matches the fingerprint rekey stores', () => {
    expect(fingerprintOf(cert(web.cert))).toBe(web.fingerprint);
  });
});
