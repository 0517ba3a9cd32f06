import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  gatherReport,
  GROUP_ROWS,
  renderReport,
  Urgency,
  urgencyOf,
  type ReportData,
  type ReportUnit,
} from '../../../shared/app/report/index.js';
import { makeReportState, type ReportState } from '../../fixtures/report-state.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';

let root: string;
let state: ReportState;

beforeAll(async () => {
  root = await makeTempDir('rekey-report-');
  state = await makeReportState(root);
});
afterAll(() => removeTempDir(root));

const DAY = 86_400_000;

describe('report data', () => {
  it('gathers every unit with its urgency, the rotation with its steps, and drift from the manifests', async () => {
    // Act
    const d = await gatherReport(state.rt.deps, state.inventory);
    // Assess
    expect(d.units.map((u) => u.key).sort()).toEqual([
      'api',
      'db-password',
      'db/0',
      'db/1',
      'issuing',
      'partner',
      'partner-ca',
      'root',
      'short',
      'web',
    ]);
    expect(d.units[0]).toMatchObject({ key: 'short', urgency: Urgency.Soon }); // most urgent first
    expect(d.units.find((u) => u.key === 'db/1')).toMatchObject({
      signedBy: 'issuing',
      keyType: 'ECDSA-P256',
      urgency: Urgency.Ok,
      secret: { namespace: 'shop', name: 'db-tls-1', clusters: ['dc1', 'dc2'] },
    });
    expect(d.rotations).toHaveLength(1);
    expect(d.rotations[0]).toMatchObject({ id: state.rotationId, item: 'web', status: 'completed' });
    expect(d.rotations[0]!.steps.every((s) => s.durationMs !== undefined)).toBe(true);
    expect(d.placements.filter((p) => p.state !== 'current').map((p) => [p.cluster, p.secret, p.state])).toEqual([
      ['dc2', 'api-tls', 'missing'],
    ]);
    expect(d.checked).toEqual({ secrets: true, workloads: false });
  });

  it.each([
    ['expired', -1, -20, Urgency.Expired],
    ['in its renewal window', 5, -1, Urgency.Due],
    ['window opens in 10 days', 40, 10, Urgency.Soon],
    ['window opens in 60 days', 90, 60, Urgency.Ok],
  ] as const)('urgency: %s', (_name, expiresInDays, renewInDays, expected) => {
    const now = new Date('2026-06-01T00:00:00Z');
    expect(
      urgencyOf(
        now,
        new Date(now.getTime() + expiresInDays * DAY).toISOString(),
        new Date(now.getTime() + renewInDays * DAY).toISOString(),
      ),
    ).toBe(expected);
  });
});

describe('report page', () => {
  it('is one self-contained document: no script, no external reference, escaped text, no key material', async () => {
    // Act
    const html = renderReport(await gatherReport(state.rt.deps, state.inventory));
    // Assess
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|<img|src=|url\(|@import/i);
    expect(html).not.toMatch(/(?:href|xlink:href)="(?!#)/);
    expect(html.includes('partner &lt;root&gt;')).toBe(true); // a common name with markup is shown, not interpreted
    expect(html.includes('<root>')).toBe(false);
    expect(html).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
    const password = JSON.parse((await state.rt.store.getVersion('rekey/shop/db-password'))!.value).password as string;
    expect(html).not.toContain(password);
    expect(html).toContain('prefers-color-scheme:dark');
    expect(html).toMatch(/<dd id="count-certificates">5<\/dd>/);
    expect(html).toMatch(/<dd id="count-drift">1<\/dd>/);
  });

  it('splits a long group into closed sub-groups, and is a pure function of its data', () => {
    // Prepare
    const now = '2026-06-01T00:00:00.000Z';
    const unit = (i: number): ReportUnit => ({
      key: `leaf-${i}`,
      item: `leaf-${i}`,
      kind: 'certificate',
      signedBy: 'ca',
      keyType: 'ECDSA-P256',
      notBefore: now,
      notAfter: '2026-12-01T00:00:00.000Z',
      renewAt: '2026-11-01T00:00:00.000Z',
      daysLeft: 183,
      urgency: Urgency.Ok,
      consumers: [],
    });
    const data: ReportData = {
      inventory: 'big',
      generatedAt: now,
      clusters: ['default'],
      units: [
        { key: 'ca', item: 'ca', kind: 'authority', keyType: 'ECDSA-P384', urgency: Urgency.Ok, consumers: [] },
        ...Array.from({ length: GROUP_ROWS * 2 + 1 }, (_, i) => unit(i)),
      ],
      placements: [],
      foundConsumers: [],
      checked: { secrets: false, workloads: false },
      rotations: [],
    };
    // Act
    const html = renderReport(data);
    // Assess
    // (booleans, not toContain: a failure must not print a megabyte of HTML)
    expect(html === renderReport(data)).toBe(true);
    expect(html.includes(`<details open><summary>units 1–${GROUP_ROWS}</summary>`)).toBe(true);
    expect(html.includes(`<details><summary>units ${GROUP_ROWS * 2 + 1}–${GROUP_ROWS * 2 + 2}</summary>`)).toBe(true);
    expect(html.includes(`<summary>${GROUP_ROWS * 2 + 1} certificates</summary>`)).toBe(true);
  });
});
