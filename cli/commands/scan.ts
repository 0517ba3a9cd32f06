import type { Command } from 'commander';
import { pickUpRequests, type RequestOutcome } from '../../shared/app/requests.js';
import { driveRotations } from '../../shared/app/rotation/index.js';
import { scan } from '../../shared/app/scan.js';
import { RotationStatus } from '../../shared/domain/rotation/record.js';
import { composeLocal } from '../compose.js';
import { out, printJson, targetFor, type CliContext } from '../context.js';
import { readInventory } from '../inventory-file.js';
import { progressFor } from '../progress.js';
import { cliLease, cliRecovery, formatRecovery } from './recover.js';

/**
 * `rekey scan`: what the schedule function does, in one process: finishes what a killed run left (and rotations
 * parked while they wait, such as a signing key's overlap), starts due rotations and those asked for by
 * RotationRequest objects, drives them (long waits stay parked for the next run), then writes each request's
 * status back.
 */
/** Rounds of "pick up requests, drive their rotations" one scan makes (requests for one item run one after another). */
const MAX_REQUEST_ROUNDS = 5;

export function registerScan(cli: Command, ctx: CliContext): void {
  cli
    .command('scan')
    .description('what the schedule does: start due rotations, pick up RotationRequest objects, report drift')
    .requiredOption('-f, --file <inventory>', 'inventory (YAML or JSON)')
    .option('--out <dir>', 'compare with (and with --repair write) Secrets rendered under DIR')
    .option('--kubeconfig <file>', 'the clusters of this kubeconfig (contexts from the inventory)')
    .option('--repair', 'rewrite drifted Secrets')
    .action(async (o: { file: string; out?: string; kubeconfig?: string; repair?: boolean }) => {
      const inv = readInventory(o.file);
      const target = targetFor(inv, o);
      const json = Boolean(ctx.globals().json);
      const progress = progressFor(json);
      const runtime = await composeLocal(inv, { stateDir: ctx.globals().state, target, log: ctx.log });
      const result = await (async () => {
        const lease = cliLease();
        const r = await scan(runtime.deps, inv, { repair: Boolean(o.repair), recover: cliRecovery(runtime, lease) });
        await driveRotations(runtime.deps, inv, runtime.queue, { lease, onStep: (m) => progress.update(`${m.item}: ${m.step}`) });
        progress.done();
        const ids = [...r.started.map((s) => s.rotationId), ...r.requests.flatMap((q) => (q.rotationId ? [q.rotationId] : []))];
        // The requests' status after their rotations ran (or were parked). A request that waited for its item (another
        // rotation of it was running) may start now: drive that too, a few rounds at most.
        const latest = new Map<string, RequestOutcome>();
        const note = (list: readonly RequestOutcome[]) => {
          for (const q of list) latest.set(`${q.cluster}/${q.namespace}/${q.name}`, q);
          return list;
        };
        note(r.requests);
        let requests = note(await pickUpRequests(runtime.deps, inv));
        for (let round = 0; round < MAX_REQUEST_ROUNDS && requests.some((q) => q.started); round++) {
          ids.push(...requests.flatMap((q) => (q.started && q.rotationId ? [q.rotationId] : [])));
          await driveRotations(runtime.deps, inv, runtime.queue, { lease, onStep: (m) => progress.update(`${m.item}: ${m.step}`) });
          requests = note(await pickUpRequests(runtime.deps, inv));
        }
        const rotations = (await Promise.all([...new Set(ids)].map((id) => runtime.deps.journal.get(id)))).flatMap((x) => (x ? [x] : []));
        const final = [...latest.values()];
        return {
          ...r,
          requests: final,
          rotations: rotations.map((x) => ({
            id: x.id,
            item: x.item,
            kind: x.kind,
            status: x.status,
            step: x.step,
            ...(x.error && { error: x.error }),
          })),
        };
      })().finally(runtime.close);
      if (json) printJson(result);
      else {
        for (const line of formatRecovery(result.recovered)) out(line);
        for (const x of result.rotations)
          out(
            `rotation ${x.id} of ${x.item} (${x.kind}): ${x.status}${x.status === RotationStatus.Running ? ` (waits at ${x.step}; the next scan goes on)` : ''}${x.error ? `: ${x.error}` : ''}`,
          );
        for (const q of result.requests)
          out(
            `RotationRequest ${q.cluster}/${q.namespace}/${q.name} (${q.item}): ${q.phase}${q.rotationId ? ` rotation ${q.rotationId}` : ''}`,
          );
        for (const d of result.drift)
          out(`drift ${d.cluster}/${d.namespace}/${d.secret} (${d.item}): ${d.reason}${o.repair ? ' (repaired)' : ''}`);
        for (const s of result.skipped) out(`skipped ${s.item}: ${s.reason}`);
        out(
          `scan: ${result.started.length} rotation(s) started, ${result.issued.length} issued, ${result.requests.length} request(s), ${result.drift.length} drifted Secret(s)`,
        );
      }
      const failed = result.rotations.filter((x) => x.status === RotationStatus.Failed || x.status === RotationStatus.RolledBack);
      if (failed.length) ctx.run.exitCode = 1;
    });
}
