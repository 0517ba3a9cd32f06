import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RemediationFile } from '../../../../shared/adapters/local/remediation-file.js';
import { alertService } from '../../../../shared/app/alerts/service.js';
import { createApi, type Api } from '../../../../shared/app/api/index.js';
import { decisionsSchema, remediationListSchema } from '../../../../shared/app/api/alert-routes.js';
import { EventType } from '../../../../shared/domain/events/types.js';
import { parseDetail } from '../../../../events/details.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import { InvalidInventoryError } from '../../../../shared/domain/errors.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';
import { apiFixture, INVENTORY, tokens, type ApiFixture } from './fixture.js';

const WITH_ALERTS = `${INVENTORY}
alerts:
  - name: expiring-tls
    match: {alertmanager: {alertname: TLSCertExpiringSoon, labels: {severity: critical}}}
    action: rotate
    items: [web]
    mode: auto
    rateLimit: {per: 1h, max: 1}
  - name: by-label
    match: {alertmanager: {alertname: SecretDrift}}
    action: resync
    itemLabel: rekey_item
  - name: needs-approval
    match: {alertmanager: {alertname: CAExpiring}}
    action: rotate
    items: [web]
    mode: approve
  - name: cloudwatch-rule
    match: {cloudwatch: {alarmName: rekey-web-expiry}}
    action: rotate
    items: [web]
`;

let root: string;
let f: ApiFixture;
let api: Api;
let token: string;

const alert = (
  alertname: string,
  fingerprint: string,
  labels: Record<string, string> = {},
  status = 'firing',
  startsAt = '2026-11-30T10:00:00Z',
) => ({
  status,
  labels: { alertname, ...labels },
  annotations: {},
  startsAt,
  endsAt: '0001-01-01T00:00:00Z',
  fingerprint,
});
const webhook = (alerts: object[]) => ({ version: '4', status: 'firing', receiver: 'rekey', groupKey: '{}:{}', alerts });

const post = async (path: string, body: unknown, t: string = token) => {
  const res = await api.router({
    method: 'POST',
    path,
    query: new URLSearchParams(),
    headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify(body)),
    client: 'alertmanager',
  });
  return { status: res.status, json: JSON.parse(res.body) };
};
const decisionsOf = (json: unknown) => decisionsSchema.parse(json).decisions.map((d) => `${d.rule ?? '-'} ${d.item ?? '-'} ${d.decision}`);
const remediationEvents = () => f.rt.bus.published.filter((e) => e.type === EventType.RemediationDecided);

beforeEach(async () => {
  root = await makeTempDir('rekey-alerts-');
  f = await apiFixture(root, { text: WITH_ALERTS, router: { rateLimit: false } });
  const alerts = alertService({ deps: f.rt.deps, inventory: f.inventory, store: new RemediationFile(join(root, 'remediations.json')) });
  api = createApi({ inventory: f.inventory, deps: f.rt.deps, runtime: 'serve', logger: f.logger, alerts, router: { rateLimit: false } });
  token = await tokens(f.inventory.name, f.key).valid({ scope: 'alerts:write' });
});
afterEach(() => removeTempDir(root));

describe('alert-driven remediation through POST /v1/alerts/alertmanager', () => {
  it('acts on a matching firing alert (rotate, trigger alert); a replayed delivery is deduped and starts nothing', async () => {
    // Act
    const first = await post('/v1/alerts/alertmanager', webhook([alert('TLSCertExpiringSoon', 'fp-1', { severity: 'critical' })]));
    const replay = await post('/v1/alerts/alertmanager', webhook([alert('TLSCertExpiringSoon', 'fp-1', { severity: 'critical' })]));

    // Assess
    expect(decisionsOf(first.json)).toEqual(['expiring-tls web acted']);
    expect(decisionsOf(replay.json)).toEqual(['expiring-tls web deduped']);
    const rotations = await f.rt.journal.listByItem('shop', 'web');
    expect(rotations).toHaveLength(1);
    expect(rotations[0]).toMatchObject({ trigger: 'alert' });
    expect(remediationEvents().map((e) => e.detail.decision)).toEqual(['acted', 'deduped']);
    for (const e of remediationEvents()) expect(parseDetail(EventType.RemediationDecided, e.detail).ok).toBe(true);
  });

  it('rate-limits an alert flood: 20 firings for one item, one remediation, 19 rate-limited', async () => {
    const flood = Array.from({ length: 20 }, (_, i) => alert('TLSCertExpiringSoon', `flood-${i}`, { severity: 'critical' }));
    const res = await post('/v1/alerts/alertmanager', webhook(flood));
    const decisions = decisionsOf(res.json);
    expect(decisions.filter((d) => d.endsWith('acted'))).toHaveLength(1);
    expect(decisions.filter((d) => d.endsWith('rate-limited'))).toHaveLength(19);
    expect(await f.rt.journal.listByItem('shop', 'web')).toHaveLength(1);
  });

  it('does nothing for resolved alerts, alerts no rule matches, labels that do not match, and a label naming no item', async () => {
    const res = await post(
      '/v1/alerts/alertmanager',
      webhook([
        alert('TLSCertExpiringSoon', 'fp-r', { severity: 'critical' }, 'resolved'),
        alert('SomethingElse', 'fp-x'),
        alert('TLSCertExpiringSoon', 'fp-w', { severity: 'warning' }),
        alert('SecretDrift', 'fp-l', { rekey_item: '../vault' }),
        alert('SecretDrift', 'fp-m'),
      ]),
    );
    expect(decisionsOf(res.json)).toEqual(['- - resolved', '- - no-rule', '- - no-rule', 'by-label - rejected', 'by-label - rejected']);
    expect(await f.rt.journal.listByItem('shop', 'web')).toEqual([]);
  });

  it('resyncs the item a label names', async () => {
    const res = await post('/v1/alerts/alertmanager', webhook([alert('SecretDrift', 'fp-s', { rekey_item: 'web' })]));
    expect(decisionsOf(res.json)).toEqual(['by-label web acted']);
    expect(decisionSchemaReason(res.json)).toMatch(/^resynced: \d+ Secret\(s\) written of 1$/);
  });

  it('waits for an approval in approve mode; POST /v1/remediations/{id}/approve carries it out once', async () => {
    const res = await post('/v1/alerts/alertmanager', webhook([alert('CAExpiring', 'fp-a')]));
    expect(decisionsOf(res.json)).toEqual(['needs-approval web awaiting-approval']);
    expect(await f.rt.journal.listByItem('shop', 'web')).toEqual([]);
    const list = await api.router({
      method: 'GET',
      path: '/v1/remediations',
      query: new URLSearchParams(),
      headers: { authorization: `Bearer ${token}` },
      client: 'c',
    });
    const pending = remediationListSchema.parse(JSON.parse(list.body)).remediations;
    expect(pending.map((r) => `${r.rule} ${r.item} ${r.status}`)).toEqual(['needs-approval web pending']);

    const approved = await post(`/v1/remediations/${pending[0]!.id}/approve`, {});
    const again = await post(`/v1/remediations/${pending[0]!.id}/approve`, {});

    expect(approved.status).toBe(200);
    expect(approved.json).toMatchObject({ decision: 'approved', item: 'web' });
    expect(again.status).toBe(409);
    expect(await f.rt.journal.listByItem('shop', 'web')).toHaveLength(1);
    expect((await post('/v1/remediations/..%2Fx/approve', {})).status).toBe(400);
    expect((await post('/v1/remediations/00000000-0000-4000-8000-000000000000/approve', {})).status).toBe(404);
  });

  it('refuses the receiver without alerts:write, and a payload that is not version 4', async () => {
    const other = await tokens(f.inventory.name, f.key).valid({ scope: 'rotations:write' });
    expect(
      (await post('/v1/alerts/alertmanager', webhook([alert('TLSCertExpiringSoon', 'fp-1', { severity: 'critical' })]), other)).status,
    ).toBe(403);
    expect((await post('/v1/alerts/alertmanager', { ...webhook([]), version: '3' })).status).toBe(422);
    expect(await f.rt.journal.listByItem('shop', 'web')).toEqual([]);
  });
});

describe('alert rules in the inventory', () => {
  it('are checked: one of items or itemLabel, known items, unique names', () => {
    const bad = `${INVENTORY}
alerts:
  - {name: a, match: {alertmanager: {alertname: X}}, action: rotate, items: [nope]}
  - {name: a, match: {alertmanager: {alertname: Y}}, action: rotate}
  - {name: c, match: {cloudwatch: {alarmName: Z}}, action: reboot, items: [web]}
`;
    let error: InvalidInventoryError | undefined;
    try {
      loadInventory(bad);
    } catch (e) {
      error = e as InvalidInventoryError;
    }
    expect(error).toBeInstanceOf(InvalidInventoryError);
    expect(error!.issues.map((i) => i.path)).toEqual(expect.arrayContaining(['alerts[2].action']));

    const cross = `${INVENTORY}
alerts:
  - {name: a, match: {alertmanager: {alertname: X}}, action: rotate, items: [nope]}
  - {name: a, match: {alertmanager: {alertname: Y}}, action: rotate}
`;
    expect(() => loadInventory(cross)).toThrow(InvalidInventoryError);
    try {
      loadInventory(cross);
    } catch (e) {
      expect((e as InvalidInventoryError).issues.map((i) => i.path)).toEqual(['alerts[0].items[0]', 'alerts[1].name', 'alerts[1]']);
    }
  });
});

function decisionSchemaReason(json: unknown): string {
  return decisionsSchema.parse(json).decisions[0]!.reason;
}
