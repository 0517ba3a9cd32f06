import { z } from 'zod';
import { parseDuration } from '../duration.js';
import type { InventoryIssue } from '../errors.js';
import { defined } from '../defined.js';

/** What an alert rule may do to its items. */
export const RemediationAction = { Rotate: 'rotate', Resync: 'resync', Restart: 'restart' } as const;
export type RemediationAction = (typeof RemediationAction)[keyof typeof RemediationAction];

export const RemediationMode = { Auto: 'auto', Approve: 'approve' } as const;
export type RemediationMode = (typeof RemediationMode)[keyof typeof RemediationMode];

const ITEM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,127}$/;

/** The `alerts:` entries of an inventory (DESIGN.md "alerts"): which alert, which action, on which items. */
function buildAlertRuleSchema() {
  const duration = z.string().refine((s) => (parseDuration(s) ?? -1) > 0, { error: 'not a positive duration (Go style: 1h, 30m)' });

  return z.strictObject({
    name: z.string().regex(ITEM_NAME, 'letters, digits, ".", "_" and "-" only'),
    match: z.union([
      z.strictObject({
        alertmanager: z.strictObject({
          alertname: z.string().min(1).max(256),
          labels: z
            .record(z.string().regex(LABEL_NAME, 'a Prometheus label name'), z.string().max(1024))
            .optional()
            .meta({ description: 'every label must equal this value' }),
        }),
      }),
      z.strictObject({
        cloudwatch: z.strictObject({
          alarmName: z.string().min(1).max(255),
          namespace: z.string().min(1).max(255).optional(),
          metricName: z.string().min(1).max(255).optional(),
        }),
      }),
    ]),
    action: z.enum([RemediationAction.Rotate, RemediationAction.Resync, RemediationAction.Restart]),
    items: z.array(z.string().regex(ITEM_NAME)).min(1).max(1000).optional(),
    itemLabel: z
      .string()
      .regex(LABEL_NAME, 'a label name')
      .optional()
      .meta({ description: 'the alert label that names the item, e.g. rekey_item' }),
    mode: z.enum([RemediationMode.Auto, RemediationMode.Approve]).default(RemediationMode.Auto),
    rateLimit: z
      .strictObject({ per: duration, max: z.number().int().min(1).max(1000) })
      .optional()
      .meta({ description: 'remediations per item at most' }),
    coolDown: duration.optional().meta({ description: 'after acting on an item, ignore the rule for it this long' }),
  });
}

let built: ReturnType<typeof buildAlertRuleSchema> | undefined;

/** The alert rule schema, built on first use (nothing zod builds at import: the functions' cold start). */
export function alertRuleSchema(): ReturnType<typeof buildAlertRuleSchema> {
  return (built ??= buildAlertRuleSchema());
}

export type AlertRuleDocument = z.infer<ReturnType<typeof alertRuleSchema>>;

export type AlertMatch =
  | { readonly source: 'alertmanager'; readonly alertname: string; readonly labels: Readonly<Record<string, string>> }
  | { readonly source: 'cloudwatch'; readonly alarmName: string; readonly namespace?: string; readonly metricName?: string };

/** A rule after validation, durations in milliseconds. */
export interface AlertRule {
  readonly name: string;
  readonly path: string;
  readonly match: AlertMatch;
  readonly action: RemediationAction;
  readonly items?: readonly string[];
  readonly itemLabel?: string;
  readonly mode: RemediationMode;
  /** Default: one remediation per item per hour, so a flapping alert cannot rotate in a loop. */
  readonly rateLimit: { readonly perMs: number; readonly max: number };
  readonly coolDownMs: number;
}

export const DEFAULT_RATE_LIMIT = { perMs: 3_600_000, max: 1 } as const;

export function resolveAlertRules(docs: readonly AlertRuleDocument[] | undefined): AlertRule[] {
  return (docs ?? []).map((d, i) => ({
    name: d.name,
    path: `alerts[${i}]`,
    match:
      'alertmanager' in d.match
        ? { source: 'alertmanager', alertname: d.match.alertmanager.alertname, labels: d.match.alertmanager.labels ?? {} }
        : {
            source: 'cloudwatch',
            alarmName: d.match.cloudwatch.alarmName,
            ...(d.match.cloudwatch.namespace && { namespace: d.match.cloudwatch.namespace }),
            ...(d.match.cloudwatch.metricName && { metricName: d.match.cloudwatch.metricName }),
          },
    action: d.action,
    ...(d.items && { items: d.items }),
    ...(d.itemLabel && { itemLabel: d.itemLabel }),
    mode: d.mode,
    rateLimit: d.rateLimit ? { perMs: defined(parseDuration(d.rateLimit.per)), max: d.rateLimit.max } : DEFAULT_RATE_LIMIT,
    coolDownMs: d.coolDown ? defined(parseDuration(d.coolDown)) : 0,
  }));
}

/** Cross-field rules: exactly one of items/itemLabel, named items exist, unique rule names. */
export function checkAlertRules(rules: readonly AlertRule[], itemNames: ReadonlySet<string>): InventoryIssue[] {
  const issues: InventoryIssue[] = [];
  const names = new Set<string>();
  for (const r of rules) {
    if (names.has(r.name)) issues.push({ path: `${r.path}.name`, message: `duplicate alert rule "${r.name}"` });
    names.add(r.name);
    if (!r.items === !r.itemLabel) issues.push({ path: r.path, message: 'give either items or itemLabel' });
    r.items?.forEach((item, j) => {
      if (!itemNames.has(item)) issues.push({ path: `${r.path}.items[${j}]`, message: `unknown item "${item}"` });
    });
  }
  return issues;
}
