/** Looks at what an endpoint serves, to verify a rotation reached it. */
export interface Prober {
  /** SHA-256 fingerprint (hex) of the leaf certificate served at host:port with the given SNI. */
  servedFingerprint(endpoint: { host: string; port: number; serverName?: string }): Promise<string>;
}
