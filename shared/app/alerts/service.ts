import type { Remediation } from './store.js';
import { alertmanagerWebhookSchema, alertsOfWebhook } from './alertmanager.js';
import { approveRemediation, receiveAlerts, type DecisionRecord, type RemediationContext } from './remediate.js';
import { alertOfAlarm, cloudWatchAlarmSchema } from './cloudwatch.js';
import { RemediationStatus } from './store.js';

/** Alert-driven remediation as the API and the alert function offer it. */
export interface AlertService {
  /** An Alertmanager webhook (version 4, already validated): one decision per firing alert, rule and item. */
  receiveAlertmanager(payload: import('./alertmanager.js').AlertmanagerWebhook): Promise<DecisionRecord[]>;
  /** A CloudWatch alarm state change (the SNS message, parsed). */
  receiveCloudWatch(alarm: import('./cloudwatch.js').CloudWatchAlarm): Promise<DecisionRecord[]>;
  pending(): Promise<Remediation[]>;
  approve(id: string, by: string): Promise<DecisionRecord>;
}

export function alertService(ctx: RemediationContext): AlertService {
  return {
    receiveAlertmanager: (payload) => receiveAlerts(ctx, alertsOfWebhook(alertmanagerWebhookSchema.parse(payload))),
    receiveCloudWatch: (alarm) => receiveAlerts(ctx, [alertOfAlarm(cloudWatchAlarmSchema.parse(alarm))]),
    pending: async () => (await ctx.store.listPending()).filter((r) => r.status === RemediationStatus.Pending),
    approve: (id, by) => approveRemediation(ctx, id, by),
  };
}
