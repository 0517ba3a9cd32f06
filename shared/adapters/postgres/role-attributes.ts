/**
 * The attributes a second login (`<role>_alt`) takes from `<role>`, as AWS's alternating-users rotation clones the
 * user: the role flags, CONNECTION LIMIT and VALID UNTIL. LOGIN is not copied: the alternate is always a login.
 */
export interface RoleAttributes {
  readonly superuser: boolean;
  readonly createdb: boolean;
  readonly createrole: boolean;
  readonly inherit: boolean;
  readonly replication: boolean;
  readonly bypassrls: boolean;
  /** -1: no limit. */
  readonly connectionLimit: number;
  /** As the server prints it (`timestamptz::text`); undefined: no expiry. */
  readonly validUntil?: string;
}

/** What `CREATE ROLE` gives when nothing is said; an attribute equal to it is not written (no privilege needed). */
export const CREATE_ROLE_DEFAULTS: RoleAttributes = {
  superuser: false,
  createdb: false,
  createrole: false,
  inherit: true,
  replication: false,
  bypassrls: false,
  connectionLimit: -1,
};

const FLAGS = {
  superuser: 'SUPERUSER',
  createdb: 'CREATEDB',
  createrole: 'CREATEROLE',
  inherit: 'INHERIT',
  replication: 'REPLICATION',
  bypassrls: 'BYPASSRLS',
} as const;

/** A role option clause: a keyword, or a keyword with a value the adapter renders (a number, or a quoted literal). */
export type RoleClause =
  | { readonly keyword: string }
  | { readonly keyword: 'CONNECTION LIMIT'; readonly number: number }
  | { readonly keyword: 'VALID UNTIL'; readonly literal: string };

/**
 * The clauses that make a role with attributes `current` (a new role: CREATE_ROLE_DEFAULTS) have those of `wanted`:
 * only what differs, so an alternate already in step needs no statement, and the admin needs a privilege (SUPERUSER,
 * REPLICATION, BYPASSRLS...) only to give what `<role>` itself has. Pure.
 */
export function roleClauses(wanted: RoleAttributes, current: RoleAttributes): RoleClause[] {
  const clauses: RoleClause[] = [];
  for (const [flag, keyword] of Object.entries(FLAGS) as [keyof typeof FLAGS, string][])
    if (wanted[flag] !== current[flag]) clauses.push({ keyword: wanted[flag] ? keyword : `NO${keyword}` });
  if (wanted.connectionLimit !== current.connectionLimit) clauses.push({ keyword: 'CONNECTION LIMIT', number: wanted.connectionLimit });
  // No expiry is 'infinity' when one must be taken away; a new role simply has none.
  if (wanted.validUntil !== current.validUntil) clauses.push({ keyword: 'VALID UNTIL', literal: wanted.validUntil ?? 'infinity' });
  return clauses;
}
