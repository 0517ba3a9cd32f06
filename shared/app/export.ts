import { join, resolve } from 'node:path';
import { NotFoundError, UsageError } from '../domain/errors.js';
import type { Inventory } from '../domain/inventory/model.js';
import { privateKeyFromPem } from '../domain/pki/keys.js';
import { rootAbove } from '../domain/pki/chain.js';
import { storeNameOf, unitsOf } from '../domain/units.js';
import type { Deps } from './deps.js';
import { decodeMaterial } from '../domain/store/material.js';
import { Stage } from '../ports/secret-store.js';
import { defined } from '../domain/defined.js';

export const ExportFormat = { Pem: 'pem', Env: 'env', P12: 'p12' } as const;
export type ExportFormat = (typeof ExportFormat)[keyof typeof ExportFormat];

/** Which certificates a PKCS#12 file carries: the leaf and its intermediates (default), or also the root. */
export const ExportChain = { Intermediates: 'intermediates', Full: 'full' } as const;
export type ExportChain = (typeof ExportChain)[keyof typeof ExportChain];

export interface ExportFile {
  readonly path: string;
  readonly content: string | Buffer;
  readonly mode: number;
}

export interface ExportResult {
  readonly files: readonly ExportFile[];
  /** What to print: PEM text (pem without a dir), export lines (env), or nothing. */
  readonly stdout: string;
}

/**
 * `ENV_PREFIX` from an item name, always a shell identifier: `postgres-operator` -> `POSTGRES_OPERATOR`,
 * `9lives.x` -> `_9LIVES_X` (a name may start with a digit; a variable may not).
 */
export const envPrefixOf = (name: string): string => {
  const prefix = name
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, '_')
    .replace(/^_|_$/g, '');
  return /^[0-9]/.test(prefix) || !prefix ? `_${prefix}` : prefix;
};

/** The `export` lines are meant for `eval`: a prefix that is not a plain identifier would run as shell code. */
const SHELL_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkedPrefix(prefix: string | undefined, name: string): string {
  if (prefix === undefined) return envPrefixOf(name);
  if (!SHELL_IDENTIFIER.test(prefix))
    throw new UsageError('--prefix must be a shell variable name: letters, digits and _, not starting with a digit');
  return prefix;
}

/** Where env and p12 files go without --dir: the caller's default (the CLI: `<state>/export`). */
function defaultTarget(options: { defaultDir?: string }, leaf: string): string {
  if (!options.defaultDir) throw new UsageError('give --dir: where to write the exported files');
  return join(resolve(options.defaultDir), leaf);
}

const shellQuote = (s: string): string => (/^[\w./@:+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/**
 * What a client needs of an item's current version: PEM files (ca.crt, tls.crt, tls.key), the same files plus
 * `export` lines (`<PREFIX>_CA_CERT`, `<PREFIX>_CLIENT_CERT`, `<PREFIX>_CLIENT_KEY`, as seed 000's pgo client
 * expects), or a PKCS#12 file, of the current version or (`stage`) the previous or pending one. The only use
 * case that hands out key material, on purpose.
 */
export async function exportItem(
  deps: Deps,
  inventory: Inventory,
  unitName: string,
  options: {
    format: ExportFormat;
    dir?: string;
    defaultDir?: string;
    prefix?: string;
    password?: string;
    stage?: Stage;
    chain?: ExportChain;
  },
): Promise<ExportResult> {
  const itemName = defined(unitName.split('/')[0]);
  checkedPrefix(options.prefix, itemName); // bad input first, before the store is read
  const item = inventory.items.get(itemName);
  if (!item) throw new UsageError(`no item named "${itemName}" in inventory ${inventory.name}`);
  // A per-replica certificate has one version per pod: `kafka` alone, or `kafka/7` of 3 replicas, is not something to export.
  const units = unitsOf(inventory, item).map((u) => u.key);
  if (!units.includes(unitName)) {
    throw new UsageError(
      units.length > 1
        ? `${itemName} has one certificate per replica: export one of ${units.join(', ')}`
        : `${itemName} has no replicas: export ${units[0]}`,
    );
  }
  const storeName = storeNameOf(inventory.name, unitName);
  const stage = options.stage ?? Stage.Current;
  const version = await deps.store.getVersion(storeName, { stage });
  if (!version) {
    throw new NotFoundError(
      stage === Stage.Current ? `${unitName} has no current version yet (run apply first)` : `${unitName} has no ${stage} version`,
      { context: { item: unitName } },
    );
  }
  const m = decodeMaterial(version.value, storeName);
  if (m.type !== 'certificate') throw new UsageError(`${unitName} is a ${m.type}; export writes certificates`);

  if (options.chain === ExportChain.Full && options.format !== ExportFormat.P12)
    throw new UsageError('--chain full applies to --format p12 (pem and env write the root to ca.crt)');
  const dir = options.dir ? resolve(options.dir) : undefined;
  if (inventory.items.get(itemName)?.kind === 'authority')
    return exportAuthority(unitName, m.cert + m.chain + (m.ca === m.cert ? '' : m.ca), options, dir);
  const pemFiles = { 'ca.crt': m.ca, 'tls.crt': m.cert + m.chain, 'tls.key': m.key };
  switch (options.format) {
    case ExportFormat.Pem:
      if (!dir) return { files: [], stdout: m.cert + m.chain + m.key + m.ca };
      return {
        files: Object.entries(pemFiles).map(([n, c]) => ({ path: join(dir, n), content: c, mode: n === 'tls.key' ? 0o600 : 0o644 })),
        stdout: '',
      };
    case ExportFormat.Env: {
      const prefix = checkedPrefix(options.prefix, itemName);
      const target = dir ?? defaultTarget(options, unitName.replace('/', '-'));
      const files = Object.entries(pemFiles).map(([n, c]) => ({
        path: join(target, n),
        content: c,
        mode: n === 'tls.key' ? 0o600 : 0o644,
      }));
      const lines = [
        `export ${prefix}_CA_CERT=${shellQuote(join(target, 'ca.crt'))}`,
        `export ${prefix}_CLIENT_CERT=${shellQuote(join(target, 'tls.crt'))}`,
        `export ${prefix}_CLIENT_KEY=${shellQuote(join(target, 'tls.key'))}`,
      ];
      return { files, stdout: lines.join('\n') + '\n' };
    }
    case ExportFormat.P12: {
      if (!options.password) throw new UsageError('p12 export needs a password (--password-env VAR)');
      const target = dir ?? defaultTarget(options, '');
      const root = options.chain === ExportChain.Full ? rootAbove(m.cert + m.chain, m.ca) : undefined;
      if (options.chain === ExportChain.Full && !root)
        throw new NotFoundError(`${unitName}: its trust bundle (ca) holds no root above its chain`, { context: { item: unitName } });
      // Loaded here: PKCS#12 is built with node-forge, which every other command would load for nothing.
      const { buildPkcs12 } = await import('../domain/pki/pkcs12.js');
      const content = buildPkcs12({
        key: privateKeyFromPem(m.key),
        certificatesPem: m.cert + m.chain + (root ?? ''),
        password: options.password,
        friendlyName: unitName,
      });
      const path = join(target, `${unitName.replace('/', '-')}.p12`);
      return { files: [{ path, content, mode: 0o600 }], stdout: `${path}\n` };
    }
    default: {
      const never: never = options.format;
      throw new UsageError(`unknown format ${String(never)}`);
    }
  }
}

/** An authority hands out its certificate (and the path to its root), never its key: that stays in the store. */
function exportAuthority(
  name: string,
  bundle: string,
  options: { format: ExportFormat; prefix?: string; defaultDir?: string },
  dir: string | undefined,
): ExportResult {
  switch (options.format) {
    case ExportFormat.Pem:
      return dir ? { files: [{ path: join(dir, 'ca.crt'), content: bundle, mode: 0o644 }], stdout: '' } : { files: [], stdout: bundle };
    case ExportFormat.Env: {
      const prefix = checkedPrefix(options.prefix, name);
      const path = join(dir ?? defaultTarget(options, name), 'ca.crt');
      return { files: [{ path, content: bundle, mode: 0o644 }], stdout: `export ${prefix}_CA_CERT=${shellQuote(path)}\n` };
    }
    case ExportFormat.P12:
      throw new UsageError(`${name} is an authority: its key is not exported; use --format pem for its certificate`);
    default: {
      const never: never = options.format;
      throw new UsageError(`unknown format ${String(never)}`);
    }
  }
}
