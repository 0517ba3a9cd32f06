import { ChangeResourceRecordSetsCommand, GetChangeCommand, Route53Client } from '@aws-sdk/client-route-53';
import { TransientError } from '../../domain/errors.js';
import type { TxtRecords } from '../acme/acme-issuer.js';
import { clientConfig, type AwsClientSettings } from './client-config.js';
import { awsCall } from './errors.js';

export interface Route53TxtOptions extends AwsClientSettings {
  readonly hostedZoneId: string;
  readonly client?: Route53Client;
  /** How long a change may take to reach INSYNC (Route 53: usually under a minute). */
  readonly syncTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** dns-01 answers as TXT records in a Route 53 hosted zone, each write awaited until INSYNC. */
export class Route53TxtRecords implements TxtRecords {
  private readonly client: Route53Client;

  constructor(private readonly options: Route53TxtOptions) {
    this.client = options.client ?? new Route53Client(clientConfig(options));
  }

  private async change(action: 'UPSERT' | 'DELETE', name: string, value: string): Promise<void> {
    const target = `${name} in zone ${this.options.hostedZoneId}`;
    const r = await awsCall({ operation: `Route 53 ChangeResourceRecordSets ${action}`, target }, () =>
      this.client.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: this.options.hostedZoneId,
          ChangeBatch: {
            Changes: [
              {
                Action: action,
                ResourceRecordSet: { Name: name, Type: 'TXT', TTL: 60, ResourceRecords: [{ Value: JSON.stringify(value) }] },
              },
            ],
          },
        }),
      ),
    );
    const id = r.ChangeInfo?.Id;
    if (!id || r.ChangeInfo?.Status === 'INSYNC') return;
    const deadline = Date.now() + (this.options.syncTimeoutMs ?? 120_000);
    for (let delay = 500; Date.now() < deadline; delay = Math.min(delay * 2, 5_000)) {
      const c = await awsCall({ operation: 'Route 53 GetChange', target }, () => this.client.send(new GetChangeCommand({ Id: id })));
      if (c.ChangeInfo?.Status === 'INSYNC') return;
      await sleep(delay);
    }
    throw new TransientError(`Route 53: ${target} not INSYNC within ${(this.options.syncTimeoutMs ?? 120_000) / 1000}s`);
  }

  upsert(name: string, value: string): Promise<void> {
    return this.change('UPSERT', name, value);
  }

  remove(name: string, value: string): Promise<void> {
    return this.change('DELETE', name, value);
  }
}
