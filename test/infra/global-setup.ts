// vitest globalSetup of the `integration` project: make sure the real test infrastructure
// is up (runs test/infra/up.sh when status says otherwise: a cold machine builds and installs
// everything, a warm one starts in seconds), then load its env into process.env and provide
// it to the test workers (`inject('rekeyInfraEnv')`). Test files should still call
// `loadInfraEnv()` from test/infra/env.ts, which reads the same file.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { loadInfraEnv } from './env.js';

declare module 'vitest' {
  export interface ProvidedContext {
    rekeyInfraEnv: Record<string, string>;
  }
}

const here = dirname(fileURLToPath(import.meta.url));

export default function setup(project: TestProject): void {
  const status = spawnSync('bash', [join(here, 'status.sh'), '-q'], { stdio: 'inherit' });
  if (status.status !== 0) {
    // Not everything is up: bring it up (idempotent, skips what runs already).
    const up = spawnSync('bash', [join(here, 'up.sh')], { stdio: 'inherit', timeout: 60 * 60 * 1000 });
    if (up.status !== 0) {
      throw new Error(
        `test infrastructure failed to start (bash test/infra/up.sh exited ${up.status ?? up.signal}); logs in ${process.env.REKEY_INFRA_RUN || '/tmp/rekey-infra'}/logs`,
      );
    }
  }
  const env = loadInfraEnv({ require: ['kube', 'moto', 'postgres', 'proxy', 'chromium', 'zlint', 'pebble'] });
  project.provide('rekeyInfraEnv', { ...env.vars });
}
