import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
  type UpdateSecretVersionStageCommandInput,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SecretsManagerStore } from '../../../../shared/adapters/aws/secrets-manager-store.js';
import { apply } from '../../../../shared/app/apply.js';
import type { Deps } from '../../../../shared/app/deps.js';
import { executeStep, startRotation } from '../../../../shared/app/rotation/index.js';
import { isRekeyError, TransientError } from '../../../../shared/domain/errors.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../../shared/domain/inventory/model.js';
import { RotationStatus, Trigger } from '../../../../shared/domain/rotation/record.js';
import type { StepMessage, StepQueue } from '../../../../shared/ports/step-queue.js';
import { localRuntime, type TestRuntime } from '../../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

const INVENTORY = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: shop}
clusters: [{name: dc1}]
authorities: [{name: ca, commonName: shop ca, key: ECDSA-P256}]
certificates:
  - {name: web, issuer: ca, usage: server, commonName: web, dnsNames: [web], secret: {name: web-tls, namespace: shop}}
`;

interface FakeSecret {
  readonly versions: Map<string, { value: string; stages: string[] }>;
}

/**
 * A small Secrets Manager behind aws-sdk-client-mock, with the label rules rekey depends on: a first version gets
 * AWSCURRENT by itself, a label lives on one version, moving AWSCURRENT gives the old holder AWSPREVIOUS.
 * `throttle` decides which UpdateSecretVersionStage calls fail with throttling past the SDK's retries.
 */
function fakeSecretsManager(throttle: (input: UpdateSecretVersionStageCommandInput) => boolean) {
  const secrets = new Map<string, FakeSecret>();
  const mock = mockClient(SecretsManagerClient);
  const notFound = () => new ResourceNotFoundException({ message: "can't find the specified secret", $metadata: {} });
  const secretOf = (id: string | undefined) => {
    const s = secrets.get(id ?? '');
    if (!s) throw notFound();
    return s;
  };
  const label = (s: FakeSecret, stage: string, to: string) => {
    for (const [id, v] of s.versions) {
      if (id === to || !v.stages.includes(stage)) continue;
      v.stages = v.stages.filter((l) => l !== stage);
      if (stage === 'AWSCURRENT') {
        for (const w of s.versions.values()) w.stages = w.stages.filter((l) => l !== 'AWSPREVIOUS');
        v.stages.push('AWSPREVIOUS');
      }
    }
    const target = s.versions.get(to);
    if (target && !target.stages.includes(stage)) target.stages.push(stage);
  };
  const put = (s: FakeSecret, id: string, value: string, stages: readonly string[]) => {
    const existing = s.versions.get(id);
    if (existing) {
      if (existing.value !== value) throw new ResourceExistsException({ message: 'version exists', $metadata: {} });
      return;
    }
    const first = s.versions.size === 0;
    s.versions.set(id, { value, stages: [] });
    for (const stage of first && !stages.includes('AWSCURRENT') ? [...stages, 'AWSCURRENT'] : stages) label(s, stage, id);
  };
  mock.on(CreateSecretCommand).callsFake((input: { Name: string; SecretString?: string; ClientRequestToken?: string }) => {
    if (secrets.has(input.Name)) throw new ResourceExistsException({ message: 'exists', $metadata: {} });
    const s: FakeSecret = { versions: new Map() };
    secrets.set(input.Name, s);
    if (input.SecretString !== undefined) put(s, input.ClientRequestToken ?? 'v0-000000000000000000000000000000', input.SecretString, []);
    return { Name: input.Name };
  });
  mock
    .on(PutSecretValueCommand)
    .callsFake((input: { SecretId: string; ClientRequestToken: string; SecretString: string; VersionStages?: string[] }) => {
      put(secretOf(input.SecretId), input.ClientRequestToken, input.SecretString, input.VersionStages ?? ['AWSCURRENT']);
      return { VersionId: input.ClientRequestToken };
    });
  mock.on(DescribeSecretCommand).callsFake((input: { SecretId: string }) => ({
    Name: input.SecretId,
    VersionIdsToStages: Object.fromEntries(
      [...secretOf(input.SecretId).versions].filter(([, v]) => v.stages.length).map(([id, v]) => [id, [...v.stages]]),
    ),
    Tags: [],
  }));
  mock.on(ListSecretVersionIdsCommand).callsFake((input: { SecretId: string }) => ({
    Versions: [...secretOf(input.SecretId).versions].map(([id, v]) => ({
      VersionId: id,
      VersionStages: [...v.stages],
      CreatedDate: new Date(),
    })),
  }));
  mock.on(GetSecretValueCommand).callsFake((input: { SecretId: string; VersionId?: string; VersionStage?: string }) => {
    const s = secretOf(input.SecretId);
    const hit = [...s.versions].find(
      ([id, v]) => (!input.VersionId || id === input.VersionId) && (!input.VersionStage || v.stages.includes(input.VersionStage)),
    );
    if (!hit) throw notFound();
    return { Name: input.SecretId, VersionId: hit[0], SecretString: hit[1].value, VersionStages: [...hit[1].stages] };
  });
  mock.on(UpdateSecretVersionStageCommand).callsFake((input: UpdateSecretVersionStageCommandInput) => {
    if (throttle(input))
      throw Object.assign(new Error('Rate exceeded'), {
        name: 'ThrottlingException',
        $metadata: { httpStatusCode: 400, attempts: 5 },
        $retryable: { throttling: true },
      });
    const s = secretOf(input.SecretId);
    const stage = input.VersionStage ?? '';
    // A move takes the label from its holder (RemoveFromVersionId names it); a removal alone just drops it.
    if (input.MoveToVersionId) label(s, stage, input.MoveToVersionId);
    else if (input.RemoveFromVersionId) {
      const v = s.versions.get(input.RemoveFromVersionId);
      if (v) v.stages = v.stages.filter((l) => l !== stage);
    }
    return {};
  });
  const labels = (name: string) =>
    Object.fromEntries([...(secrets.get(name)?.versions ?? [])].map(([id, v]) => [id, [...v.stages].sort()]));
  return { mock, labels };
}

let root: string;
let inventory: Inventory;
let rt: TestRuntime;

beforeEach(async () => {
  root = await makeTempDir('rekey-promote-throttled-');
  inventory = loadInventory(INVENTORY);
  rt = localRuntime(inventory, root);
});
afterEach(() => removeTempDir(root));

/** Runs queued step messages; a retryable failure puts its message back, as SQS redelivers it. */
async function work(deps: Deps, messages: StepMessage[]): Promise<number> {
  let retried = 0;
  for (let guard = 0; messages.length && guard < 500; guard++) {
    const m = messages.shift()!;
    try {
      await executeStep(deps, inventory, m);
    } catch (e) {
      if (!isRekeyError(e) || !e.retryable) throw e;
      expect(e).toBeInstanceOf(TransientError);
      retried++;
      messages.unshift(m);
    }
  }
  return retried;
}

describe('an authority promotion whose last UpdateSecretVersionStage is throttled past its retries', () => {
  it('is finished by the retried step: AWSPENDING leaves the new current version, and the next rotation starts', async () => {
    // Prepare: the CA and its leaf issued into the fake Secrets Manager; then the CA's promotion loses its last call once.
    let armed = false;
    let throttled = 0;
    const sm = fakeSecretsManager((input) => {
      const hit = armed && throttled === 0 && input.SecretId === 'rekey/shop/ca' && input.VersionStage === 'AWSPENDING';
      if (hit) throttled++;
      return hit;
    });
    try {
      const store = new SecretsManagerStore({
        client: new SecretsManagerClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }),
      });
      const messages: StepMessage[] = [];
      const queue: StepQueue = {
        enqueue: (m) => {
          messages.push(m);
          return Promise.resolve();
        },
      };
      const deps: Deps = { ...rt.deps, store, queue };
      await apply(deps, inventory);
      armed = true;

      // Act
      const first = await startRotation(deps, inventory, 'ca', { trigger: Trigger.Manual, reason: 'throttled promote' });
      const retried = await work(deps, messages);

      // Assess
      expect(throttled).toBe(1);
      expect(retried).toBe(1);
      expect((await rt.journal.get(first.id))?.status).toBe(RotationStatus.Completed);
      const ca = sm.labels('rekey/shop/ca');
      expect(Object.values(ca).flat()).not.toContain('AWSPENDING');
      expect(ca[first.id]).toEqual(['AWSPREVIOUS']);

      // Act: the item's next rotation is not locked by a leftover label.
      const second = await startRotation(deps, inventory, 'ca', { trigger: Trigger.Manual, reason: 'next' });
      await work(deps, messages);

      // Assess
      expect((await rt.journal.get(second.id))?.status).toBe(RotationStatus.Completed);
      expect(Object.values(sm.labels('rekey/shop/ca')).flat()).not.toContain('AWSPENDING');
    } finally {
      sm.mock.restore();
    }
  });
});
