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
