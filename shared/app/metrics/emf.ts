import type { Registry } from 'prom-client';

/** The CloudWatch namespace rekey's metrics go to. */
export const EMF_NAMESPACE = 'rekey';

/** CloudWatch takes at most 30 dimensions per metric; rekey's labels are far fewer. */
const MAX_DIMENSIONS = 30;

type Sample = { readonly value: number; readonly labels: Readonly<Record<string, string | number>>; readonly metricName?: string };
type MetricJson = { readonly name: string; readonly type: string; readonly values: readonly Sample[] };

const unitOf = (name: string): string =>
  name.endsWith('_seconds') ? 'Seconds' : name.endsWith('_total') || name.endsWith('_count') ? 'Count' : 'None';

/**
 * The registry's samples as CloudWatch embedded metric format lines (one JSON object per sample, labels as
 * dimensions), so a Lambda writes them to its log and CloudWatch turns them into metrics: the Lambda answer to a
 * Prometheus scrape. Histogram buckets are left out (CloudWatch has its own statistics; sum and count are kept).
 */
export async function emfLines(registry: Registry, at: Date = new Date()): Promise<string[]> {
  const lines: string[] = [];
  for (const metric of (await registry.getMetricsAsJSON()) as unknown as MetricJson[]) {
    for (const sample of metric.values) {
      const name = sample.metricName ?? metric.name;
      if (name.endsWith('_bucket')) continue;
      const labels = Object.fromEntries(Object.entries(sample.labels).map(([k, v]) => [k, String(v)]));
      const dimensions = Object.keys(labels).slice(0, MAX_DIMENSIONS);
      lines.push(
        JSON.stringify({
          _aws: {
            Timestamp: at.getTime(),
            CloudWatchMetrics: [{ Namespace: EMF_NAMESPACE, Dimensions: [dimensions], Metrics: [{ Name: name, Unit: unitOf(name) }] }],
          },
          ...labels,
          [name]: sample.value,
        }),
      );
    }
  }
  return lines;
}
