export { TlsProber } from './tls-prober.js';
