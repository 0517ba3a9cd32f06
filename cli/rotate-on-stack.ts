import { startRotation } from '../shared/app/rotation/index.js';
import { UsageError } from '../shared/domain/errors.js';
import type { Inventory } from '../shared/domain/inventory/model.js';
import { RotationStatus, Trigger, type RotationRecord } from '../shared/domain/rotation/record.js';
import { CLI_MAX_WAIT_MS } from './compose.js';
import type { CliContext } from './context.js';
import { out, printJson } from './context.js';
import { defined } from '../shared/domain/defined.js';

/** How often `--wait` reads the journal. */
const WAIT_POLL_MS = 1_000;

/**
 * `rekey rotate NAME --backend aws`: starts the rotation the way the API route does (journal record, RotationStarted,
 * first step on the stack's FIFO queue) and returns; the stack's step function drives it. It never drives a step
 * or recovers anything here: those rotations belong to the Lambda workers, and a second driver would fight their
 * leases. `--wait` only reads the journal until the rotation is no longer running.
 */
export async function rotateOnStack(
  ctx: CliContext,
  inventory: Inventory,
  name: string,
  o: { out?: string; kubeconfig?: string; reason: string; wait?: boolean },
): Promise<void> {
  if (o.out !== undefined || o.kubeconfig !== undefined)
    throw new UsageError(
      `${o.out !== undefined ? '--out' : '--kubeconfig'}: with --backend aws the stack's functions write the Secrets; rotate takes neither`,
    );
  const { composeAws } = await import('./compose-aws.js');
  const { deps, names } = await composeAws(inventory, { flags: ctx.globals(), log: ctx.log, clusters: 'none' });
  const json = Boolean(ctx.globals().json);
  // No lease: the first step worker to receive the message claims it (as for rotations the schedule starts).
  const started = await startRotation(deps, inventory, name, { trigger: Trigger.Manual, reason: o.reason });
  if (!json) out(`rotation ${started.id} of ${name} queued on ${names.stepQueueUrl}: the stack's step function drives it`);
  let final: RotationRecord = started;
  if (o.wait) {
    let seen = 0;
    for (const until = Date.now() + CLI_MAX_WAIT_MS; Date.now() < until;) {
      final = defined(await deps.journal.get(started.id), `rotation ${started.id} in the journal`);
      if (!json) for (const h of final.history.slice(seen)) out(`  ${h.status.padEnd(9)} ${h.step}${h.message ? `: ${h.message}` : ''}`);
      seen = final.history.length;
      if (final.status !== RotationStatus.Running) break;
      await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
    }
  }
  if (json) printJson({ rotation: final, queued: true, backend: 'aws' });
  else if (final.status === RotationStatus.Running)
    out(`  follow it with \`rekey inspect ${name} --backend aws\`${o.wait ? ' (still running after the wait)' : ''}`);
  else out(`rotation ${final.id} ${final.status}${final.error ? `: ${final.error}` : ''}`);
  if (final.status !== RotationStatus.Completed && final.status !== RotationStatus.Running) ctx.run.exitCode = 1;
}
