import type { X509Certificate } from 'node:crypto';

/** The certificate's extended key usage OIDs. node's typings promise an array; without the extension it is undefined. */
export function ekuOf(x: X509Certificate): readonly string[] {
  const list: readonly string[] | undefined = x.keyUsage;
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the typings are wrong here (see above)
  return list ?? [];
}
