import packageJson from '../package.json' with { type: 'json' };

/** The version `rekey --version` prints: package.json's, inlined into the bundle by dist's build. */
export const REKEY_VERSION: string = packageJson.version;
