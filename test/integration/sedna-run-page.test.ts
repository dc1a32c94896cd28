/**
 * The status page of `sedna run --ui` in a real headless Chromium (Debian's chromium driven by
 * playwright-core): it loads, shows the job's phase and workers, updates as the edge's reports
 * arrive (over the event stream, no reload), draws the hard-example chart and shows a worker's log.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { containerOf, documentOf, editedExample, setEnv } from '../helpers/job-yaml.js';
import { startRun, tempStateDir } from '../helpers/sedna-run.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let dir: string;
let browser: Browser;
beforeAll(async () => {
  dir = await tempStateDir('sedna-run-page-');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser.close();
  await fs.rm(dir, { recursive: true, force: true });
});

test('the page shows the job, its workers and updates as reports arrive', async () => {
  const file = await editedExample('examples/joint-inference/joint-inference-service.yaml', dir, (docs) => {
    setEnv(containerOf(documentOf(docs, 'JointInferenceService'), 'edgeWorker'), 'LC_PERIOD', '1');
  });
  const run = startRun([file, '--local', 'examples/joint-inference/sedna.local.yaml'], path.join(dir, 'state'));
  const page = await browser.newPage();
  try {
    await page.goto(`${await run.api()}/`);
    const job = page.locator('section.job[data-job="digits-inference"]');
    await job.waitFor();
    await expect(job.locator('h2 .phase').textContent()).resolves.toBe('Running');
    await expect(job.locator('h2').textContent()).resolves.toContain('JointInferenceService default/digits-inference');

    // The page's own script runs in the browser: the conditions are expressions evaluated there.
    const waitInPage = (expression: string, timeout = 60_000): Promise<unknown> =>
      page.waitForFunction(expression, undefined, { timeout });
    const reportsShown = "Number((document.querySelector('section.job .reports')?.textContent ?? '').split(' ')[0])";

    // Both workers appear, and the edge's last report once it reports.
    await waitInPage("document.querySelectorAll('section.job tr.worker').length === 2");
    const before = Number(((await job.locator('.reports').textContent()) ?? '').split(' ')[0]);
    expect(Number.isInteger(before)).toBe(true);
    // Updates arrive over the event stream: the count grows without a reload.
    await waitInPage(`${reportsShown} > ${before + 1}`);
    await waitInPage(
      "[...document.querySelectorAll('tr.worker .last-report')].some((td) => td.textContent.startsWith('inference/'))",
    );
    // The hard-example ratio chart gets points from the reports.
    await waitInPage('document.querySelectorAll(\'svg[data-chart="ji-ratio"] circle\').length > 0');
    await expect(job.locator('.facts').first().textContent()).resolves.toMatch(/inferences: \d+ \(\d+ hard/);

    // A click on the cloud worker shows its log.
    await job.locator('tr.worker', { hasText: 'cloud' }).click();
    await waitInPage("document.getElementById('logs').textContent.includes('big model serving')", 30_000);
    // The timeline lists the GM's steps.
    await expect(page.locator('#timeline').textContent()).resolves.toContain('created the edge worker');
  } finally {
    await page.close();
    run.child.kill('SIGINT');
    await run.exited;
  }
}, 180_000);
