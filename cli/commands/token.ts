import type { Command } from 'commander';
import { isTokenScope } from '../../shared/app/api/scopes.js';
import { ensureApiSigningKey, mintApiToken, readApiSigningKey } from '../../shared/app/api/signing-key.js';
import { parseDuration } from '../../shared/domain/duration.js';
import { UsageError } from '../../shared/domain/errors.js';
import { composeLocal } from '../compose.js';
import { out, type CliContext } from '../context.js';
import { readInventory } from '../inventory-file.js';

export function registerToken(cli: Command, ctx: CliContext): void {
  cli
    .command('token')
    .description('mint an API token with the stored signing key (made if missing); prints only the token')
    .requiredOption('-f, --file <inventory>', 'inventory (YAML or JSON)')
    .requiredOption(
      '--scope <scopes>',
      'space-separated: rotations:write items:read metrics:read log:write alerts:write enrol:<profile> enrol:<profile>:revoke',
    )
    .option('--ttl <duration>', 'lifetime', '1h')
    .option('--subject <sub>', 'who the token is for (sub claim)', 'operator')
    .action(async (o: { file: string; scope: string; ttl: string; subject: string }) => {
      const inv = readInventory(o.file);
      const ttlMs = parseDuration(o.ttl);
      if (!ttlMs || ttlMs < 1000) throw new UsageError(`--ttl ${o.ttl}: expected a duration of at least 1s (Go style: 1h, 30m)`);
      if (!/^[\x21-\x7e]{1,128}$/.test(o.subject)) throw new UsageError('--subject: 1 to 128 printable characters without spaces');
      const scopes = o.scope.split(/\s+/).filter(Boolean);
      // `enrol:<profile>` scopes are named by the inventory's enrolment profiles.
      const unknown = scopes.filter((s) => !isTokenScope(s));
      if (unknown.length || !scopes.length) throw new UsageError(`--scope: unknown scope(s): ${unknown.join(', ') || '(none given)'}`);
      // Read-only first: a running `rekey serve` holds the state lock, and the key it made is all a token needs.
      const reader = await composeLocal(inv, { stateDir: ctx.globals().state, target: { kind: 'none' }, log: ctx.log, readOnly: true });
      let material = await readApiSigningKey(reader.deps.store, inv.name);
      if (!material) {
        const writer = await composeLocal(inv, { stateDir: ctx.globals().state, target: { kind: 'none' }, log: ctx.log });
        try {
          material = (await ensureApiSigningKey(writer.deps.store, inv.name, { now: writer.deps.clock.now() })).material;
        } finally {
          await writer.close();
        }
      }
      out(await mintApiToken(material, { inventory: inv.name, scopes, ttlSeconds: Math.floor(ttlMs / 1000), subject: o.subject }));
    });
}
