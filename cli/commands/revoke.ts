import type { Command } from 'commander';
import { enrolProfile, revokeEnrolled } from '../../shared/app/enrol-revocation.js';
import { UsageError } from '../../shared/domain/errors.js';
import { REVOCATION_REASONS, type RevocationReason } from '../../shared/domain/enrol/record.js';
import { composeLocal } from '../compose.js';
import { out, printJson, type CliContext } from '../context.js';
import { readInventory } from '../inventory-file.js';

const isReason = (r: string): r is RevocationReason => (REVOCATION_REASONS as readonly string[]).includes(r);

/**
 * `rekey revoke`: marks a certificate enrolled under a profile revoked (its record in the store gets the time, reason
 * and who). Renewals with it are refused from then on, and the profile's CRL (GET /v1/enrol/{profile}/crl) lists it.
 */
export function registerRevoke(cli: Command, ctx: CliContext): void {
  cli
    .command('revoke')
    .description('revoke a certificate enrolled under a profile (POST /v1/enrol): renewals refused, listed in the CRL')
    .requiredOption('-f, --file <inventory>', 'inventory (YAML or JSON)')
    .requiredOption('--profile <name>', 'enrolment profile')
    .requiredOption('--serial <hex>', 'serial of the enrolled certificate (hex, colons allowed)')
    .option('--reason <reason>', `one of ${REVOCATION_REASONS.join(', ')}`, 'unspecified')
    .option('--by <who>', 'recorded as who revoked it', 'operator')
    .action(async (o: { file: string; profile: string; serial: string; reason: string; by: string }) => {
      const inv = readInventory(o.file);
      if (!inv.enrol?.some((p) => p.name === o.profile))
        throw new UsageError(
          `no enrolment profile "${o.profile}" in ${o.file} (profiles: ${inv.enrol?.map((p) => p.name).join(', ') || 'none'})`,
        );
      if (!/^[0-9A-Fa-f:]{1,128}$/.test(o.serial)) throw new UsageError(`--serial ${o.serial}: expected hex`);
      const reason = o.reason;
      if (!isReason(reason)) throw new UsageError(`--reason ${reason}: expected one of ${REVOCATION_REASONS.join(', ')}`);
      const { deps, close } = await composeLocal(inv, { stateDir: ctx.globals().state, target: { kind: 'none' }, log: ctx.log });
      const { record, changed } = await revokeEnrolled(deps, inv, {
        profile: enrolProfile(inv, o.profile),
        serial: o.serial,
        reason,
        by: o.by,
      }).finally(close);
      if (ctx.globals().json) printJson({ profile: o.profile, serial: record.serial, revoked: record.revoked, changed });
      else
        out(
          changed
            ? `revoked ${record.serial} (${record.subject}) under ${o.profile}: ${reason}`
            : `${record.serial} was already revoked at ${record.revoked?.at ?? '?'} (${record.revoked?.reason ?? '?'})`,
        );
    });
}
