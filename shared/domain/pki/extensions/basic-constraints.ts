import { bool, seq, smallInteger } from '../der.js';
import { extension } from './extension.js';

/** basicConstraints, critical. A CA may limit the depth below it; a leaf is an empty sequence (cA FALSE). */
export function basicConstraints(options: { ca: true; pathLen?: number } | { ca: false }) {
  const value = options.ca
    ? seq([bool(true), ...(options.pathLen !== undefined ? [smallInteger(options.pathLen)] : [])])
    : seq([]);
  return extension('2.5.29.19', true, value);
}
