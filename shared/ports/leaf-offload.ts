import type { Issuer as Signer } from '../domain/pki/certificate.js';
import type { LeafOrder, MadeLeaf } from '../domain/pki/leaf-issue.js';

/**
 * Makes leaves of rekey's own CAs (key and certificate) off the main thread: the CLI's pool of signing workers.
 * Absent (the Lambda functions, REKEY_SIGN_WORKERS=0): every leaf is made in process.
 */
export interface LeafOffload {
  /**
   * Makes the leaf elsewhere, or returns undefined when that does not pay (few leaves so far in this process) or
   * cannot be done (the pool is closed, every worker stopped): the caller then makes it in process. A rejection fails
   * this leaf only. The signer's key is handed over once per signer object, not per leaf.
   */
  make(order: LeafOrder, signer: Signer): Promise<MadeLeaf> | undefined;
  /** Stops the workers; leaves asked for afterwards are made in process. */
  close(): Promise<void>;
}
