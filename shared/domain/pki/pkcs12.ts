import { createHmac, randomBytes, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { explicit, fromDer, octets, oid, seq, set, smallInteger, toBinary, toDer, type Asn1 } from './der.js';
import { pemBlocks } from './pem.js';

const OIDS = {
  data: '1.2.840.113549.1.7.1',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  sha256: '2.16.840.1.101.3.4.2.1',
} as const;

const MAC_ITERATIONS = 2048;

const dataContentInfo = (content: Buffer): Asn1 => seq([oid(OIDS.data), explicit(0, octets(content))]);

function bagAttributes(localKeyId: Buffer, friendlyName?: string): Asn1 {
  const attrs = [seq([oid(OIDS.localKeyId), set([octets(localKeyId)])])];
  if (friendlyName) {
    const bmp = forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.BMPSTRING, false, friendlyName);
    attrs.push(seq([oid(OIDS.friendlyName), set([bmp])]));
  }
  return set(attrs);
}

/**
 * A PKCS#12 (PFX) file: the key as a PKCS#8 shrouded bag (PBES2/AES-256-CBC, encrypted natively, so EC and
 * Ed25519 keys work where forge's own PKCS#12 writer only takes RSA), the certificate chain as cert bags, and an
 * HMAC-SHA256 integrity MAC with the PKCS#12 key derivation.
 */
export function buildPkcs12(args: { key: KeyObject; certificatesPem: string; password: string; friendlyName?: string }): Buffer {
  const certs = pemBlocks(args.certificatesPem);
  const localKeyId = randomBytes(20);
  const encryptedKey = args.key.export({ type: 'pkcs8', format: 'der', cipher: 'aes-256-cbc', passphrase: args.password });
  const keyBag = seq([oid(OIDS.shroudedKeyBag), explicit(0, fromDer(encryptedKey)), bagAttributes(localKeyId, args.friendlyName)]);
  const certBags = certs.map((der, i) =>
    seq([
      oid(OIDS.certBag),
      explicit(0, seq([oid(OIDS.x509Certificate), explicit(0, octets(der))])),
      ...(i === 0 ? [bagAttributes(localKeyId, args.friendlyName)] : []),
    ]),
  );
  const authSafe = toDer(seq([dataContentInfo(toDer(seq(certBags))), dataContentInfo(toDer(seq([keyBag])))]));

  const salt = randomBytes(16);
  const macKey = forge.pkcs12.generateKey(
    args.password,
    forge.util.createBuffer(toBinary(salt)),
    3,
    MAC_ITERATIONS,
    32,
    forge.md.sha256.create(),
  );
  const mac = createHmac('sha256', Buffer.from(macKey.getBytes(), 'binary')).update(authSafe).digest();
  const macData = seq([
    seq([seq([oid(OIDS.sha256), forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.NULL, false, '')]), octets(mac)]),
    octets(salt),
    smallInteger(MAC_ITERATIONS),
  ]);
  return toDer(seq([smallInteger(3), dataContentInfo(authSafe), macData]));
}
