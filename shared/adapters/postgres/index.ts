export { PostgresDatabases, type DatabaseActivity } from './session.js';
export { parseConnection, readUrlSource, tlsFor, SslMode, type ConnectionTarget, type UrlSources } from './connection.js';
