import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType, type RekeyEvent } from '../../shared/domain/events/types.js';
import { loadInventory } from '../../shared/domain/inventory/load.js';
import { inventoryHead, serverLeafYaml } from '../fixtures/aws-inventories.js';
import { pemBlocks } from '../../shared/domain/pki/der.js';
import { AuthorityStep } from '../../shared/domain/rotation/machines.js';
import { RotationStatus, type RotationRecord } from '../../shared/domain/rotation/record.js';
import { decodeMaterial, type CertificateMaterial } from '../../shared/domain/store/material.js';
import { Annotation } from '../../shared/domain/sync/desired.js';
import type { EventBus } from '../../shared/ports/event-bus.js';
import { silentLogger } from '../../shared/ports/logger.js';
import { Stage } from '../../shared/ports/secret-store.js';
import { startAwsLambdaRunner, type AwsLambdaRunner } from '../fixtures/aws-lambda-runner.js';
import { loadInfraEnv } from '../infra/env.js';
import { Admin, deploymentObject, podSpec, rolledOut, uniqueName } from '../integration/kube/support.js';

/**
 * A CA rotation on the AWS runtime, end to end: the scheduled scan finds the CA due (its spec changed in the
 * packaged inventory, as a redeploy would) and starts its rotation; the ten steps run in the step function through
 * SQS FIFO (and the delay queue), restarts go through EventBridge to the restart function and the real dc1
 * cluster, versions live in Secrets Manager and the journal in DynamoDB (moto). While it runs, the Secrets in dc1
 * are sampled: every client's ca.crt must verify every server's tls.crt at every sample.
 */

const CA_NAME = 'e2e ca';

const inventoryYaml = (name: string, namespace: string, caCommonName: string) => `${inventoryHead(name)}authorities:
  - name: root-ca
    commonName: ${caCommonName}
    validity: 87600h
    secret: {name: root-ca, namespace: ${namespace}}
    consumers: [Deployment/trust]
certificates:
${serverLeafYaml({ name: 'web', namespace, consumer: 'Deployment/web' })}  - name: api-client
    issuer: root-ca
    usage: client
    commonName: api-client
    secret: {name: api-client, namespace: ${namespace}}
    consumers: [Deployment/api]
    restart: {policy: together, within: 5m}
`;

/** Whether a bundle verifies the first certificate of a tls.crt. */
function verifies(bundle: string, tlsCrt: string): boolean {
  const leaf = new X509Certificate(pemBlocks(tlsCrt)[0]!);
  return pemBlocks(bundle).some((d) => {
    const ca = new X509Certificate(d);
    return leaf.checkIssued(ca) && leaf.verify(ca.publicKey);
  });
}

class RecordingBus implements EventBus {
  readonly published: RekeyEvent[] = [];
  constructor(private readonly inner: EventBus) {}
  async publish(events: readonly RekeyEvent[]): Promise<void> {
    await this.inner.publish(events);
    this.published.push(...events);
  }
}

let admin: Admin;
let namespace: string;
let prefix: string;
let bus: RecordingBus;
let aws: AwsLambdaRunner;

beforeAll(async () => {
  const kubeconfig = loadInfraEnv({ require: ['kube', 'moto'] }).kube.kubeconfig;
  admin = await Admin.of('dc1');
  namespace = uniqueName('e2e-aws-ca');
  await admin.createNamespace(namespace);
  await admin.apply(deploymentObject(namespace, 'web', {}, podSpec({ volume: 'web-tls' })));
  await admin.apply(deploymentObject(namespace, 'api', {}, podSpec({ volume: 'api-client' })));
  await admin.apply(deploymentObject(namespace, 'trust', {}, podSpec({ volume: 'root-ca' })));
  for (const d of ['web', 'api', 'trust']) await rolledOut(admin, namespace, d);

  aws = await startAwsLambdaRunner({
    name: 'e2eca',
    require: ['kube'],
    kubeconfig,
    log: silentLogger,
    events: (inner) => (bus = new RecordingBus(inner)),
    inventory: (p) => loadInventory(inventoryYaml((prefix = p), namespace, CA_NAME), 'e2e.yaml'),
  });
}, 300_000);

afterAll(async () => {
  await aws?.stop();
  await admin?.deleteNamespace(namespace);
});

/** The Secrets of the test namespace in dc1, data decoded. */
async function secrets(): Promise<Map<string, { data: Record<string, string>; annotations: Record<string, string> }>> {
  const list = (await admin.core.listNamespacedSecret({ namespace })).items;
  return new Map(
    list.map((s) => [
      s.metadata!.name!,
      {
        annotations: s.metadata?.annotations ?? {},
        data: Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()])),
      },
    ]),
  );
}

const restartedAt = async (name: string) =>
  (await admin.deployment(namespace, name)).spec?.template.metadata?.annotations?.['rekey/restartedAt'];

describe('authority rotation on the AWS runtime (moto + dc1)', () => {
  it("the scheduled scan starts the due CA's rotation; it runs its ten steps through SQS and EventBridge, trust holds at every sample", async () => {
    // Prepare: the first scan issues everything
    const first = await aws.schedule();
    for (const id of first.rotations) expect((await aws.waitForRotation(id)).status).toBe(RotationStatus.Completed);
    const caStore = `rekey/${prefix}/root-ca`;
    const before = decodeMaterial((await aws.aws.store.getVersion(caStore))!.value, caStore) as CertificateMaterial;
    const restartsBefore = { web: await restartedAt('web'), api: await restartedAt('api'), trust: await restartedAt('trust') };

    // Act: redeploy with the CA's spec changed; the next scheduled scan finds it due
    aws.redeploy(loadInventory(inventoryYaml(prefix, namespace, `${CA_NAME} 2`), 'e2e.yaml'));
    const scan = await aws.schedule();
    expect(scan.rotations).toHaveLength(1);
    const id = scan.rotations[0]!;
    const broken: string[] = [];
    const sizes = new Set<number>();
    let samples = 0;
    let record: RotationRecord | undefined;
    for (const end = Date.now() + 240_000; Date.now() < end;) {
      const all = await secrets();
      const bundles = [...all].filter(([, s]) => s.data['ca.crt']);
      for (const [holder, h] of bundles) {
        sizes.add(pemBlocks(h.data['ca.crt']!).length);
        for (const [peer, p] of all)
          if (p.data['tls.crt'] && !verifies(h.data['ca.crt']!, p.data['tls.crt'])) broken.push(`${holder} rejects ${peer}`);
      }
      samples++;
      record = await aws.aws.journal.get(id);
      if (record && record.status !== RotationStatus.Running) break;
      await new Promise((r) => setTimeout(r, 250));
    }

    // Assess: the rotation, the store, every Secret on the new CA alone, every consumer restarted, trust intact
    expect(record?.status, record?.error).toBe(RotationStatus.Completed);
    expect(record?.kind).toBe('authority');
    expect(record?.history.map((h) => h.step)).toEqual(Object.values(AuthorityStep));
    expect(record?.authority).toMatchObject({ children: ['web', 'api-client'], onNewCa: 2 });
    const after = decodeMaterial((await aws.aws.store.getVersion(caStore))!.value, caStore) as CertificateMaterial;
    expect(after.fingerprint).not.toBe(before.fingerprint);
    expect(after.trustAlso).toBeUndefined();
    expect(new X509Certificate(after.cert).subject).toContain(`${CA_NAME} 2`);
    expect(await aws.aws.store.getVersion(caStore, { stage: Stage.Pending })).toBeUndefined();
    const end = await secrets();
    for (const name of ['root-ca', 'web-tls', 'api-client']) {
      const s = end.get(name)!;
      expect(pemBlocks(s.data['ca.crt']!), name).toHaveLength(1);
      expect(s.data['ca.crt']!.trim(), name).toBe(after.cert.trim());
      expect(s.annotations[Annotation.BundleHash], name).toBeUndefined();
      if (name !== 'root-ca') expect(verifies(after.cert, s.data['tls.crt']!), name).toBe(true);
    }
    expect(broken).toEqual([]);
    expect(samples).toBeGreaterThan(3);
    expect([...sizes].sort()).toEqual([1, 2]); // the overlap was seen, and ended
    for (const d of ['web', 'api', 'trust'] as const) {
      await rolledOut(admin, namespace, d);
      expect(await restartedAt(d), d).not.toBe(restartsBefore[d]);
    }
    const phases = bus.published
      .filter((e) => e.type === EventType.RotationPhaseChanged && e.detail.rotationId === id)
      .map((e) => e.detail.phase);
    expect(phases).toEqual(['overlap', 'reissuing', 'verifying', 'dropping', 'done']);
    expect(bus.published.filter((e) => e.type === EventType.RestartCompleted && e.detail.rotationId === id).length).toBeGreaterThan(0);
    // the next scan finds nothing to do: no drift (no stale bundle hash left on a Secret), nothing due
    const next = await aws.schedule();
    expect(next).toMatchObject({ started: 0, drift: 0 });
    expect(aws.runner.errors).toEqual([]);
  });
});
