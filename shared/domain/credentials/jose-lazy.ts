/**
 * The parts of jose that credential rotations use, for `await import('./jose-lazy.js')`: code that needs jose only
 * for some rotations loads it then, not at import (the functions' cold start), and a bundler keeps only these
 * exports instead of the whole library that `import('jose')` would bring.
 */
export { calculateJwkThumbprint, createLocalJWKSet, flattenedVerify, FlattenedSign, importJWK, SignJWT } from 'jose';
