import { createECDH } from 'node:crypto';
import { pemBlocks } from './pem.js';
import { children, contentOf, objectId, sequence } from './der-writer.js';
import { EC_CURVES, type EcCurve } from './key-encoding.js';
import { defined } from '../defined.js';

const EC_ALGORITHMS: ReadonlyArray<{ curve: EcCurve; der: Buffer }> = (Object.keys(EC_CURVES) as EcCurve[]).map((curve) => ({
  curve,
  // SEQUENCE { ecPublicKey, namedCurve }: compared as bytes.
  der: sequence([objectId('1.2.840.10045.2.1'), objectId(EC_CURVES[curve].oid)]),
}));

/**
 * Whether an EC private key (PKCS#8 PEM) belongs to a certificate: the public point computed from the key's
 * scalar must be the certificate's. Undefined when the key is not a PKCS#8 EC key of a curve rekey issues (the
 * caller then asks OpenSSL). Parsing the key with OpenSSL's decoders costs ~1.5 ms; this costs one scalar
 * multiplication.
 */
export function ecKeyMatchesCertificate(certificateDer: Buffer, keyPem: string): boolean | undefined {
  try {
    const der = pemBlocks(keyPem, 'PRIVATE KEY')[0];
    if (!der) return undefined;
    const [version, algorithm, privateKey] = children(der);
    if (!version || !algorithm || !privateKey || !version.equals(Buffer.from([2, 1, 0]))) return undefined;
    const alg = EC_ALGORITHMS.find((a) => a.der.equals(algorithm));
    if (!alg) return undefined;
    const [ecVersion, scalar] = children(contentOf(privateKey));
    if (!ecVersion?.equals(Buffer.from([2, 1, 1])) || !scalar || scalar[0] !== 0x04) return undefined;
    const ecdh = createECDH(EC_CURVES[alg.curve].openssl);
    ecdh.setPrivateKey(contentOf(scalar));
    const point = ecdh.getPublicKey();
    // The certificate's subjectPublicKey: TBSCertificate field 6 (after the [0] version), its BIT STRING.
    const tbs = children(certificateDer)[0];
    const fields = tbs ? children(tbs) : [];
    const spki = fields[fields[0]?.[0] === 0xa0 ? 6 : 5];
    const bits = spki ? children(spki)[1] : undefined;
    if (!spki || !bits) return false;
    return defined(children(spki)[0]).equals(alg.der) && contentOf(bits).subarray(1).equals(point);
  } catch {
    return undefined;
  }
}
