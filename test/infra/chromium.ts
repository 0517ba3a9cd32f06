// Launch Debian's Chromium through playwright-core the way the tests should: headless, no
// sandbox, no background networking, a fresh profile in a temporary --user-data-dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { loadInfraEnv } from './env.js';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const;

export interface LaunchedChromium {
  context: BrowserContext;
  userDataDir: string;
  /** close the browser and remove its profile */
  close(): Promise<void>;
}

/** A persistent context on a fresh user-data-dir (playwright passes it as --user-data-dir). */
export async function launchChromium(opts: { viewport?: { width: number; height: number } } = {}): Promise<LaunchedChromium> {
  const env = loadInfraEnv({ require: ['chromium'] });
  const userDataDir = mkdtempSync(join(tmpdir(), 'rekey-chromium-profile-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: env.chromiumPath,
    headless: true,
    args: [...CHROMIUM_ARGS],
    viewport: opts.viewport ?? { width: 1280, height: 800 },
    offline: false,
  });
  return {
    context,
    userDataDir,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
