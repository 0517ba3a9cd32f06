import { boolean, sequence, smallInteger } from '../der-writer.js';
import { extension } from './extension.js';

/** A leaf's: the same bytes for every leaf, encoded once. */
const LEAF = extension('2.5.29.19', true, sequence([]));

/** basicConstraints, critical. A CA may limit the depth below it; a leaf is an empty sequence (cA FALSE). */
export function basicConstraints(options: { ca: true; pathLen?: number } | { ca: false }): Buffer {
  if (!options.ca) return LEAF;
  return extension('2.5.29.19', true, sequence([boolean(true), ...(options.pathLen !== undefined ? [smallInteger(options.pathLen)] : [])]));
}
