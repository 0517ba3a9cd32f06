// Throwaway certificates for tests, made with the real `openssl` CLI (EC P-256).
// Use them to replace the files in PG_TLS_DIR / PROXY_TLS_DIR and then run the reload
// command, or to mint client certificates for restricted Kubernetes users.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertFiles {
  cert: string;
  key: string;
}

export interface CertOptions {
  cn: string;
  /** organisation(s): for Kubernetes client certificates these are the user's groups */
  o?: string[];
  kind: 'server' | 'client';
  /** e.g. ['DNS:localhost', 'IP:127.0.0.1'] */
  sans?: string[];
  days?: number;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A self-signed CA: DIR/NAME.crt and DIR/NAME.key. */
export function makeCa(dir: string, name: string, cn: string): CertFiles {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '3650',
    '-subj',
    `/CN=${cn}`,
    '-keyout',
    key,
    '-out',
    cert,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert, key };
}

/** A leaf certificate signed by `ca`: DIR/NAME.crt and DIR/NAME.key. */
export function makeCert(dir: string, name: string, ca: CertFiles, opts: CertOptions): CertFiles {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  const lines = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${opts.kind === 'server' ? 'serverAuth' : 'clientAuth'}`,
  ];
  if (opts.sans?.length) lines.push(`subjectAltName=${opts.sans.join(',')}`);
  writeFileSync(ext, lines.join('\n') + '\n');
  const subj = [...(opts.o ?? []).map((o) => `/O=${o}`), `/CN=${opts.cn}`].join('');
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', subj, '-keyout', key, '-out', csr]);
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-days',
    String(opts.days ?? 30),
    '-extfile',
    ext,
    '-out',
    cert,
  ]);
  return { cert, key };
}
