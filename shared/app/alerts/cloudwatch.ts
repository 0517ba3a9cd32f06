import { z } from 'zod';
import type { IncomingAlert } from '../../domain/alerts/decide.js';

/** A CloudWatch alarm state change as it arrives in an SNS message (JSON text in Sns.Message). */
export const cloudWatchAlarmSchema = z.looseObject({
  AlarmName: z.string().min(1).max(255),
  AlarmArn: z.string().max(2048).optional(),
  NewStateValue: z.enum(['ALARM', 'OK', 'INSUFFICIENT_DATA']),
  StateChangeTime: z.string().min(1).max(64),
  Trigger: z.looseObject({ Namespace: z.string().optional(), MetricName: z.string().optional() }).optional(),
});
export type CloudWatchAlarm = z.infer<typeof cloudWatchAlarmSchema>;

/** An SNS event as Lambda receives it. */
export const snsEventSchema = z.looseObject({
  Records: z
    .array(
      z.looseObject({
        Sns: z.looseObject({ Message: z.string().max(262_144), MessageId: z.string().optional(), TopicArn: z.string().optional() }),
      }),
    )
    .min(1)
    .max(100),
});

/**
 * The alarm as an alert: ALARM fires, OK resolves (INSUFFICIENT_DATA too: not a reason to act). The alarm's ARN
 * and the state change time identify one firing, so SNS's at-least-once redelivery is a replay.
 */
export function alertOfAlarm(alarm: CloudWatchAlarm): IncomingAlert {
  return {
    source: 'cloudwatch',
    name: alarm.AlarmName,
    labels: {
      ...(alarm.Trigger?.Namespace && { namespace: alarm.Trigger.Namespace }),
      ...(alarm.Trigger?.MetricName && { metricName: alarm.Trigger.MetricName }),
    },
    fingerprint: alarm.AlarmArn ?? alarm.AlarmName,
    startsAt: alarm.StateChangeTime,
    status: alarm.NewStateValue === 'ALARM' ? 'firing' : 'resolved',
  };
}
