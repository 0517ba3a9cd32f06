import { z } from 'zod';
import type { IncomingAlert } from '../../domain/alerts/decide.js';

/** Alertmanager's webhook payload, version 4 (the fields rekey reads; others are kept but ignored). */
export const alertmanagerWebhookSchema = z
  .looseObject({
    version: z.literal('4'),
    status: z.enum(['firing', 'resolved']),
    receiver: z.string().max(1024).optional(),
    groupKey: z.string().max(4096).optional(),
    alerts: z
      .array(
        z.looseObject({
          status: z.enum(['firing', 'resolved']),
          labels: z.record(z.string().max(256), z.string().max(4096)),
          annotations: z.record(z.string().max(256), z.string().max(16_384)).optional(),
          startsAt: z.string().min(1).max(64),
          endsAt: z.string().max(64).optional(),
          fingerprint: z.string().min(1).max(256),
        }),
      )
      .max(1000),
  })
  .meta({ id: 'AlertmanagerWebhook', description: 'Alertmanager webhook payload version 4' });
export type AlertmanagerWebhook = z.infer<typeof alertmanagerWebhookSchema>;

export function alertsOfWebhook(payload: AlertmanagerWebhook): IncomingAlert[] {
  return payload.alerts.map((a) => ({
    source: 'alertmanager',
    name: a.labels.alertname ?? '',
    labels: a.labels,
    fingerprint: a.fingerprint,
    startsAt: a.startsAt,
    status: a.status,
  }));
}
