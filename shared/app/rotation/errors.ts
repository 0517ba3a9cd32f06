import { RekeyError } from '../../domain/errors.js';

/** What is served or stored after promotion is not the new version: the rotation rolls back. */
export class VerificationError extends RekeyError {}

/** Restarts failed or missed their deadline; the new version stays current and the previous stays retrievable. */
export class RestartError extends RekeyError {}
