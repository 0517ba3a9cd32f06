import type { Command } from 'commander';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { enrolTruststore } from '../../shared/app/enrol-truststore.js';
import { composeStore } from '../backend.js';
import { out, printJson, type CliContext } from '../context.js';
import { readInventory } from '../inventory-file.js';

/**
 * `rekey truststore`: the PEM bundle of the CAs that sign enrolled client certificates, for API Gateway's
 * mutual TLS (the custom domain's truststore, README "Deploy to AWS"). Read from the store (`--backend aws` for a
 * stack's Secrets Manager); during an authority rotation it holds the old and the new CA. Public certificates only.
 */
export function registerTruststore(cli: Command, ctx: CliContext): void {
  cli
    .command('truststore')
    .description("write the PEM bundle of the enrolment profiles' CAs (API Gateway mutual TLS truststore) to --out")
    .requiredOption('-f, --file <inventory>', 'inventory (YAML or JSON)')
    .requiredOption('--out <file>', 'where the PEM bundle is written')
    .option('--profile <name>', 'only this enrolment profile; repeat for more (default: all)', (v: string, all: string[] | undefined) => [
      ...(all ?? []),
      v,
    ])
    .action(async (o: { file: string; out: string; profile?: string[] }) => {
      const inv = readInventory(o.file);
      const rt = await composeStore(ctx, inv, { target: () => ({ kind: 'none' }), readOnly: true, clusters: 'none' });
      try {
        const store = await enrolTruststore(rt.deps, inv, { ...(o.profile && { profiles: o.profile }) });
        writeFileSync(o.out, store.bundle, { mode: 0o644 });
        const sha256 = createHash('sha256').update(store.bundle).digest('hex');
        if (ctx.globals().json)
          printJson({ out: o.out, certificates: store.certificates, authorities: store.authorities, profiles: store.profiles, sha256 });
        else
          out(
            `${o.out}: ${store.certificates} CA certificate(s) of ${store.authorities.join(', ')} for profile(s) ${store.profiles.join(', ')} (sha256 ${sha256.slice(0, 16)}…)\n` +
              'upload it and deploy with the new version: aws s3api put-object --bucket B --key K --body FILE --query VersionId --output text; ' +
              'serverless deploy --param="apiTruststoreUri=s3://B/K" --param="apiTruststoreVersion=VERSION" ...',
          );
      } finally {
        await rt.close();
      }
    });
}
