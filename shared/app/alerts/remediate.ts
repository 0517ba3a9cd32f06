import { createHash, randomUUID } from 'node:crypto';
import { decide, Decision, matchingRules, targetItems, type IncomingAlert } from '../../domain/alerts/decide.js';
import { RemediationAction, type AlertRule } from '../../domain/alerts/rule.js';
import { ConflictError, NotFoundError } from '../../domain/errors.js';
import { EventType, makeEvent, type RekeyEvent } from '../../domain/events/types.js';
import type { Inventory } from '../../domain/inventory/model.js';
import { Trigger, type RotationRecord } from '../../domain/rotation/record.js';
import { unitsOf } from '../../domain/units.js';
import type { Deps } from '../deps.js';
import { MaterialReader } from '../materials.js';
import { requestConsumerRestarts } from '../restart/planner.js';
import { startRotation } from '../rotation/index.js';
import { syncUnits } from '../sync.js';
import { RemediationStatus, type Remediation, type RemediationStore } from './store.js';
import { defined } from '../../domain/defined.js';

export interface RemediationContext {
  readonly deps: Deps;
  readonly inventory: Inventory;
  readonly store: RemediationStore;
  /** serve drives a started rotation in-process; on AWS the step queue does. */
  readonly rotationStarted?: (record: RotationRecord) => void;
  /** How long a delivery is remembered for dedupe (default 7 days: longer than Alertmanager re-sends a firing alert). */
  readonly dedupeSeconds?: number;
}

/** One decision, as the API returns it and the RemediationDecided event carries it. */
export interface DecisionRecord {
  readonly decision: Decision;
  readonly reason: string;
  readonly alert: {
    readonly source: 'alertmanager' | 'cloudwatch';
    readonly name: string;
    readonly fingerprint: string;
    readonly startsAt: string;
  };
  readonly rule?: string;
  readonly item?: string;
  readonly action?: string;
  readonly remediationId?: string;
  readonly rotationId?: string;
}

const NO_ITEM = '-';

function eventOf(inventory: string, d: DecisionRecord, at: string): RekeyEvent {
  return makeEvent(
    EventType.RemediationDecided,
    { inventory, item: d.item ?? NO_ITEM, at, ...(d.rotationId && { rotationId: d.rotationId }) },
    {
      decision: d.decision,
      reason: d.reason,
      source: d.alert.source,
      alertname: d.alert.name,
      fingerprint: d.alert.fingerprint,
      startsAt: d.alert.startsAt,
      ...(d.rule && { rule: d.rule }),
      ...(d.action && { action: d.action }),
      ...(d.remediationId && { remediationId: d.remediationId }),
    },
  );
}

/** The delivery key: one alert firing (fingerprint + startsAt), for one rule and item. */
const deliveryKey = (inventory: string, alert: IncomingAlert, rule: string, item: string): string =>
  createHash('sha256').update([inventory, alert.source, alert.fingerprint, alert.startsAt, rule, item].join('\0')).digest('hex');

/** Carries out a remediation now. Returns the outcome; never throws for a failed action (it is a decision). */
async function act(
  ctx: RemediationContext,
  rule: Pick<AlertRule, 'name' | 'action'>,
  item: string,
  why: string,
  marker: string,
): Promise<{ ok: boolean; message: string; rotationId?: string }> {
  const { deps, inventory } = ctx;
  try {
    switch (rule.action) {
      case RemediationAction.Rotate: {
        const record = await startRotation(deps, inventory, item, { trigger: Trigger.Alert, reason: `${why} (alert rule ${rule.name})` });
        ctx.rotationStarted?.(record);
        return { ok: true, message: `rotation ${record.id} started`, rotationId: record.id };
      }
      case RemediationAction.Resync: {
        const report = await syncUnits(
          deps,
          inventory,
          unitsOf(inventory, defined(inventory.items.get(item))),
          new MaterialReader(deps.store, inventory),
          { dryRun: false },
        );
        const changed = report.secrets.filter((s) => s.change === 'created' || s.change === 'updated').length;
        return { ok: true, message: `resynced: ${changed} Secret(s) written of ${report.secrets.length}` };
      }
      case RemediationAction.Restart: {
        const { requested, unreachable, skipped } = await requestConsumerRestarts(
          deps,
          inventory,
          defined(inventory.items.get(item)),
          marker,
        );
        if (requested.length === 0)
          return {
            ok: false,
            message: `nothing to restart: ${[...skipped, ...unreachable.map((c) => `cluster ${c} not connected`)].join('; ') || 'no consumers'}`,
          };
        const asked = requested.map((r) => `${r.cluster}: ${r.workloads.length} workload(s)`).join(', ');
        return {
          ok: true,
          message: `restart requested (${asked})${unreachable.length ? `; not connected: ${unreachable.join(', ')}` : ''}`,
        };
      }
      default: {
        const never: never = rule.action;
        throw new Error(`unknown action ${String(never)}`);
      }
    }
  } catch (e) {
    return { ok: false, message: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * Alert-driven remediation: for each alert, the matching rules and their items; a replayed delivery is dropped
 * (claimed once per fingerprint and startsAt); then cool-down, rate limit and mode decide; `auto` acts at once,
 * `approve` waits for POST /v1/remediations/{id}/approve. Resolved alerts do nothing. Every decision is an event.
 */
export async function receiveAlerts(ctx: RemediationContext, alerts: readonly IncomingAlert[]): Promise<DecisionRecord[]> {
  const { deps, inventory, store } = ctx;
  const decisions: DecisionRecord[] = [];
  const known = new Set(inventory.items.keys());
  const rules = inventory.alerts ?? [];
  for (const alert of alerts) {
    const about = { source: alert.source, name: alert.name, fingerprint: alert.fingerprint, startsAt: alert.startsAt };
    if (alert.status === 'resolved') {
      decisions.push({ decision: Decision.Resolved, reason: 'resolved alerts change nothing', alert: about });
      continue;
    }
    const matched = matchingRules(rules, alert);
    if (!matched.length) {
      decisions.push({ decision: Decision.NoRule, reason: 'no alert rule of the inventory matches', alert: about });
      continue;
    }
    for (const rule of matched) {
      const base = { alert: about, rule: rule.name, action: rule.action };
      const targets = targetItems(rule, alert, known);
      if ('problem' in targets) {
        decisions.push({ ...base, decision: Decision.Rejected, reason: targets.problem });
        continue;
      }
      for (const item of targets.items) {
        const now = deps.clock.now();
        const expires = Math.floor(now.getTime() / 1000) + (ctx.dedupeSeconds ?? 7 * 86_400);
        if (!(await store.claim(deliveryKey(inventory.name, alert, rule.name, item), expires))) {
          decisions.push({ ...base, item, decision: Decision.Deduped, reason: 'this firing of the alert was already handled' });
          continue;
        }
        const windowMs = Math.max(rule.rateLimit.perMs, rule.coolDownMs);
        const recent = (await store.recent(rule.name, item, new Date(now.getTime() - windowMs).toISOString())).filter(
          (r) => r.status !== RemediationStatus.Rejected,
        );
        const acted = recent
          .filter((r) => r.status === RemediationStatus.Done || r.status === RemediationStatus.Approved)
          .map((r) => Date.parse(r.decidedAt));
        const verdict = decide(
          rule,
          { within: recent.map((r) => Date.parse(r.decidedAt)), ...(acted.length && { lastActed: Math.max(...acted) }) },
          now.getTime(),
        );
        if (verdict.decision !== Decision.Acted && verdict.decision !== Decision.AwaitingApproval) {
          decisions.push({ ...base, item, ...verdict });
          continue;
        }
        const remediation: Remediation = {
          id: randomUUID(),
          inventory: inventory.name,
          rule: rule.name,
          item,
          action: rule.action,
          mode: rule.mode,
          status: RemediationStatus.Pending,
          alert: about,
          decidedAt: now.toISOString(),
        };
        if (verdict.decision === Decision.AwaitingApproval) {
          await store.put(remediation);
          decisions.push({ ...base, item, ...verdict, remediationId: remediation.id });
          continue;
        }
        const outcome = await act(ctx, rule, item, `alert ${alert.name}`, remediation.id);
        await store.put({
          ...remediation,
          status: outcome.ok ? RemediationStatus.Done : RemediationStatus.Failed,
          message: outcome.message,
          ...(outcome.rotationId && { rotationId: outcome.rotationId }),
        });
        decisions.push({
          ...base,
          item,
          decision: outcome.ok ? Decision.Acted : Decision.Failed,
          reason: outcome.message,
          remediationId: remediation.id,
          ...(outcome.rotationId && { rotationId: outcome.rotationId }),
        });
      }
    }
  }
  const at = deps.clock.now().toISOString();
  await deps.events.publish(decisions.map((d) => eventOf(inventory.name, d, at)));
  for (const d of decisions)
    deps.log.info('remediation decided', {
      decision: d.decision,
      rule: d.rule,
      item: d.item,
      alertname: d.alert.name,
      rotationId: d.rotationId,
      reason: d.reason,
    });
  return decisions;
}

/** Approves a pending remediation and carries it out (once: a second approval is a ConflictError). */
export async function approveRemediation(ctx: RemediationContext, id: string, by: string): Promise<DecisionRecord> {
  const { deps, inventory, store } = ctx;
  const pending = await store.get(id);
  if (!pending || pending.inventory !== inventory.name) throw new NotFoundError(`no remediation ${id}`);
  if (pending.status !== RemediationStatus.Pending) throw new ConflictError(`remediation ${id} is ${pending.status}, not pending`);
  const approved: Remediation = { ...pending, status: RemediationStatus.Approved, approvedBy: by };
  if (!(await store.transition(id, RemediationStatus.Pending, approved)))
    throw new ConflictError(`remediation ${id} was approved or changed by someone else`);
  const outcome = await act(
    ctx,
    { name: pending.rule, action: pending.action },
    pending.item,
    `alert ${pending.alert.name}, approved by ${by}`,
    id,
  );
  await store.transition(id, RemediationStatus.Approved, {
    ...approved,
    status: outcome.ok ? RemediationStatus.Done : RemediationStatus.Failed,
    message: outcome.message,
    ...(outcome.rotationId && { rotationId: outcome.rotationId }),
  });
  const decision: DecisionRecord = {
    decision: outcome.ok ? Decision.Approved : Decision.Failed,
    reason: `approved by ${by}: ${outcome.message}`,
    alert: pending.alert,
    rule: pending.rule,
    item: pending.item,
    action: pending.action,
    remediationId: id,
    ...(outcome.rotationId && { rotationId: outcome.rotationId }),
  };
  await deps.events.publish([eventOf(inventory.name, decision, deps.clock.now().toISOString())]);
  return decision;
}
