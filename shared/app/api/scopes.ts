/** What a token may do; each protected route names the one scope it needs. */
export const Scope = {
  RotationsWrite: 'rotations:write',
  ItemsRead: 'items:read',
  MetricsRead: 'metrics:read',
  LogWrite: 'log:write',
  AlertsWrite: 'alerts:write',
} as const;
export type Scope = (typeof Scope)[keyof typeof Scope];

export const ALL_SCOPES: readonly Scope[] = Object.values(Scope);

export const isScope = (s: string): s is Scope => (ALL_SCOPES as readonly string[]).includes(s);

/** Scopes named by the inventory's enrolment profiles: `enrol:<profile>` (enrol), `enrol:<profile>:revoke` (revoke). */
export const ENROL_SCOPE = /^enrol:[A-Za-z0-9._-]{1,128}(:revoke)?$/;

/** A scope a token may carry: the API's own, or an enrolment profile's. */
export const isTokenScope = (s: string): boolean => isScope(s) || ENROL_SCOPE.test(s);
