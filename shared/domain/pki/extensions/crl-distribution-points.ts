import { constructed, ia5, implicitTag, sequence } from '../der-writer.js';
import { extension } from './extension.js';

/**
 * cRLDistributionPoints (RFC 5280 §4.2.1.13), not critical: one DistributionPoint whose fullName is the URI where the
 * CRL of the certificate's issuer is published. DistributionPointName is a CHOICE, so its [0] is explicit (0xa0);
 * fullName [0] GeneralNames is implicit (0xa0, the GeneralName inside); the URI is [6] IA5String (0x86).
 */
export function crlDistributionPoints(uri: string): Buffer {
  const fullName = constructed(0xa0, [implicitTag(6, ia5(uri))]);
  return extension('2.5.29.31', false, sequence([sequence([constructed(0xa0, [fullName])])]));
}
