/** The rekey version the API reports (kept equal to package.json's by a unit test; bundles carry no package.json). */
export const REKEY_VERSION = '0.1.0';
