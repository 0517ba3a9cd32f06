// The report page in a real browser (Debian's Chromium through playwright-core): it renders without console errors,
// shows the known inventory's numbers, makes no request beyond its own file, and axe-core finds no serious or
// critical accessibility violation, in the light and the dark scheme. Screenshots go to test-results/.
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type LaunchedChromium } from '../../infra/chromium.js';
import { REPO_ROOT, runMain } from '../../fixtures/cli.js';
import { makeReportState, type ReportState } from '../../fixtures/report-state.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const RESULTS = join(REPO_ROOT, 'test-results');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

let root: string;
let state: ReportState;
let html: string;
let browser: LaunchedChromium;

beforeAll(async () => {
  root = await makeTempDir('rekey-report-page-');
  state = await makeReportState(root);
  html = join(root, 'report.html');
  const made = await runMain(
    ['--state', state.rt.stateDir, 'report', '-f', state.inventoryFile, '--out', state.rt.outDir, '--html', html],
    { REKEY_VAULT_KEY: state.rt.key.toString('hex') },
  );
  expect(made.code, made.stderr).toBe(0);
  mkdirSync(RESULTS, { recursive: true });
  browser = await launchChromium({ viewport: { width: 1280, height: 900 } });
});
afterAll(async () => {
  await browser?.close();
  await removeTempDir(root);
});

describe('rekey report in Chromium', () => {
  it.each(['light', 'dark'] as const)(
    'renders the known inventory with no console error and no serious accessibility violation (%s)',
    async (scheme) => {
      // Prepare
      const page = await browser.context.newPage();
      await page.emulateMedia({ colorScheme: scheme });
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      page.on('pageerror', (e) => problems.push(e.message));
      page.on('request', (r) => requests.push(r.url()));
      // Act
      await page.goto(pathToFileURL(html).href);
      const count = async (id: string) => (await page.textContent(`#count-${id}`))?.trim();
      const counts = {
        authorities: await count('authorities'),
        certificates: await count('certificates'),
        credentials: await count('credentials'),
        units: await count('units'),
        drift: await count('drift'),
        rotating: await count('rotating'),
      };
      const issuingLeaves = await page.locator('[data-authority="issuing"] > details ul.leaves li').allTextContents();
      const rotation = await page.locator(`[data-rotation="${state.rotationId}"] tbody tr td:first-child`).allTextContents();
      const drift = await page.locator('#drift tbody').textContent();
      const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      await page.screenshot({ path: join(RESULTS, `report-${scheme}.png`), fullPage: true });
      await page.addScriptTag({ content: AXE_SOURCE });
      const violations = await page.evaluate(async () => {
        const axe = (globalThis as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: AxeViolation[] }> } })
          .axe;
        return (await axe.run(document, { resultTypes: ['violations'] })).violations;
      });
      await page.close();
      // Assess
      expect(problems).toEqual([]);
      expect(requests.filter((u) => u !== pathToFileURL(html).href)).toEqual([]);
      expect(counts).toEqual({ authorities: '3', certificates: '5', credentials: '1', units: '10', drift: '1', rotating: '0' });
      expect(issuingLeaves.map((t) => t.split(' ')[0])).toEqual(['api', 'db/0', 'db/1', 'web']);
      expect(rotation).toEqual(expect.arrayContaining(['issue', 'test', 'promote', 'sync', 'verify']));
      expect(drift).toContain('dc2/shop/api-tls');
      expect(background).toBe(scheme === 'dark' ? 'rgb(18, 19, 22)' : 'rgb(255, 255, 255)');
      const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      expect(
        serious.map(
          (v) =>
            `${v.id}: ${v.help} (${v.nodes
              .slice(0, 3)
              .map((n) => n.target.join(' '))
              .join('; ')})`,
        ),
      ).toEqual([]);
    },
  );
});
