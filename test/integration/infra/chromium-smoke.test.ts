// Smoke test of Chromium (Debian's package) driven by playwright-core: render a local page to a PNG.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../infra/chromium.js';
import { loadInfraEnv } from '../../infra/env.js';

const work = mkdtempSync(join(tmpdir(), 'rekey-chromium-smoke-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('Chromium', () => {
  it('renders a local page to a PNG', async () => {
    // Prepare
    expect(loadInfraEnv({ require: ['chromium'] }).chromiumPath).toBe('/usr/bin/chromium');
    const page = join(work, 'page.html');
    writeFileSync(page, '<!doctype html><html><body style="margin:0;background:#0a7"><h1 id="t">rekey infra smoke</h1></body></html>');
    const png = join(work, 'page.png');
    const browser = await launchChromium({ viewport: { width: 320, height: 200 } });

    // Act
    let title: string | null;
    try {
      const p = await browser.context.newPage();
      await p.goto(pathToFileURL(page).href);
      title = await p.textContent('#t');
      await p.screenshot({ path: png });
    } finally {
      await browser.close();
    }

    // Assess
    expect(title).toBe('rekey infra smoke');
    const bytes = readFileSync(png);
    expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(bytes.readUInt32BE(16)).toBe(320); // IHDR width
    expect(bytes.readUInt32BE(20)).toBe(200); // IHDR height
    expect(bytes.length).toBeGreaterThan(500);
  });
});
