import type { AlertRule } from './rule.js';
import { defined } from '../defined.js';

/** One alert, whatever sent it: Alertmanager (webhook v4) or a CloudWatch alarm through SNS. */
export interface IncomingAlert {
  readonly source: 'alertmanager' | 'cloudwatch';
  /** alertname, or the alarm name. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Alertmanager's fingerprint, or the alarm ARN: with startsAt, what makes a delivery a repeat. */
  readonly fingerprint: string;
  readonly startsAt: string;
  readonly status: 'firing' | 'resolved';
}

/** Every way an alert can end: each is a RemediationDecided event. */
export const Decision = {
  Acted: 'acted',
  Deduped: 'deduped',
  RateLimited: 'rate-limited',
  CoolingDown: 'cooling-down',
  AwaitingApproval: 'awaiting-approval',
  Approved: 'approved',
  Rejected: 'rejected',
  NoRule: 'no-rule',
  Resolved: 'resolved',
  Failed: 'failed',
} as const;
export type Decision = (typeof Decision)[keyof typeof Decision];

/** Rules whose `match` this alert meets. */
export function matchingRules(rules: readonly AlertRule[], alert: IncomingAlert): AlertRule[] {
  return rules.filter((r) => {
    const m = r.match;
    switch (m.source) {
      case 'alertmanager':
        return (
          alert.source === 'alertmanager' && alert.name === m.alertname && Object.entries(m.labels).every(([k, v]) => alert.labels[k] === v)
        );
      case 'cloudwatch':
        return (
          alert.source === 'cloudwatch' &&
          alert.name === m.alarmName &&
          (m.namespace === undefined || alert.labels.namespace === m.namespace) &&
          (m.metricName === undefined || alert.labels.metricName === m.metricName)
        );
      default: {
        const never: never = m;
        throw new Error(`unknown match ${JSON.stringify(never)}`);
      }
    }
  });
}

/** The items a rule acts on for this alert: its list, or the one its label names (checked like any item name). */
export function targetItems(rule: AlertRule, alert: IncomingAlert, known: ReadonlySet<string>): { items: string[] } | { problem: string } {
  if (rule.items) return { items: [...rule.items] };
  const label = defined(rule.itemLabel);
  const value = alert.labels[label];
  if (!value) return { problem: `the alert has no label "${label}"` };
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(value) || !known.has(value))
    return { problem: `label ${label} names no item of the inventory` };
  return { items: [value] };
}

/** What the store knows about recent remediations of one rule on one item. */
export interface RecentRemediations {
  /** Instants (ms) of remediations acted on or awaiting approval inside the window. */
  readonly within: readonly number[];
  /** Instant (ms) of the latest one acted on, if any. */
  readonly lastActed?: number;
}

/**
 * The policy chain for one rule and item once the alert is new (not a replay): cool-down, then rate limit, then
 * the rule's mode. First answer wins.
 */
export function decide(rule: AlertRule, recent: RecentRemediations, nowMs: number): { decision: Decision; reason: string } {
  if (rule.coolDownMs > 0 && recent.lastActed !== undefined && nowMs - recent.lastActed < rule.coolDownMs) {
    return {
      decision: Decision.CoolingDown,
      reason: `acted ${Math.round((nowMs - recent.lastActed) / 1000)} s ago; cool-down is ${rule.coolDownMs / 1000} s`,
    };
  }
  const inWindow = recent.within.filter((t) => nowMs - t < rule.rateLimit.perMs).length;
  if (inWindow >= rule.rateLimit.max) {
    return {
      decision: Decision.RateLimited,
      reason: `${inWindow} remediation(s) of this item in the last ${rule.rateLimit.perMs / 1000} s (at most ${rule.rateLimit.max})`,
    };
  }
  if (rule.mode === 'approve') return { decision: Decision.AwaitingApproval, reason: 'the rule needs an approval' };
  return { decision: Decision.Acted, reason: `rule ${rule.name}: ${rule.action}` };
}
