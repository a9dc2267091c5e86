/**
 * The web page end to end in real headless Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core; no browser is downloaded): the real server with the micro model, real clips
 * uploaded through the page's file inputs, and what a user reads on the page.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CpLlm, cpLlmPreset, presetTokenizer, saveBundle, type Scorer } from '@vqlm/models';
import { childPids, entries, loadScorer, makeClip, makeTempDir, removeDir, testBackend, useTestBackend } from '../__fixtures__/harness.js';
import { InProcessQueue } from '../jobs/in-process-queue.js';
import { createScorerProcessor } from '../jobs/processor.js';
import { buildServer, type VqlmServer } from '../server.js';
import { WEB_PAGE_CSP, defaultWebDir, webPage } from './web-page.js';

const CHROMIUM = process.env.VQLM_CHROMIUM ?? '/usr/bin/chromium';
const SKIP = process.env.VQLM_SKIP_BROWSER === '1';

describe.skipIf(SKIP)('web page in Chromium', () => {
  let dir: string;
  let spoolDir: string;
  let scorer: Scorer;
  let server: VqlmServer;
  let url: string;
  let browser: Browser;
  let page: Page;
  let good: string;
  let bad: string;
  let notVideo: string;
  let pidsBefore: number[];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium not found at ${CHROMIUM}: install it (Debian/Ubuntu: apt-get install -y chromium), point VQLM_CHROMIUM at it, or set VQLM_SKIP_BROWSER=1 to skip the browser tests`);
    }
    if (!existsSync(join(defaultWebDir(), 'app.js'))) {
      throw new Error(`the web page is not built (${defaultWebDir()} has no app.js): run \`pnpm --filter @vqlm/server build\` first`);
    }
    pidsBefore = childPids();
    dir = await makeTempDir('web');
    spoolDir = join(dir, 'spool');
    // the micro model with a calibration that spreads its raw scores over the 1–5 scale, so that
    // the two clips of the compare test score differently
    await useTestBackend();
    const model = await CpLlm.create(cpLlmPreset('micro'), { tokenizer: presetTokenizer('micro') });
    try {
      await saveBundle(model, join(dir, 'bundle'), { calibration: { kind: 'linear', slope: 40, intercept: 3 } });
    } finally {
      await model.dispose();
    }
    scorer = await loadScorer(join(dir, 'bundle'), { backend: testBackend });
    good = makeClip(join(dir, 'sharp.mp4'), { width: 96, height: 64, frames: 12 });
    bad = makeClip(join(dir, 'noise.mp4'), { width: 96, height: 64, frames: 12, pattern: 'mandelbrot' });
    notVideo = join(dir, 'notes.mp4');
    await writeFile(notVideo, 'these are meeting notes, not a video\n'.repeat(20));
    const queue = new InProcessQueue({ processor: createScorerProcessor(scorer), concurrency: 1, maxQueued: 4 });
    server = await buildServer({ queue, config: { spoolDir }, defaultMetrics: false, plugins: [webPage()] });
    url = await server.listen();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.shutdown({ drainTimeoutMs: 5000 });
    await scorer?.dispose();
    if (dir) await removeDir(dir);
  });

  async function open(): Promise<void> {
    await page.goto(`${url}/`);
    await page.waitForSelector('body[data-ready="true"]');
  }

  it('serves the page, its script and style from this origin only', async () => {
    const response = await fetch(`${url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/html/);
    expect(response.headers.get('content-security-policy')).toBe(WEB_PAGE_CSP);
    const html = await response.text();
    expect(html).not.toMatch(/https?:\/\//);
    for (const asset of ['app.js', 'style.css']) expect((await fetch(`${url}/${asset}`)).status).toBe(200);
    expect((await fetch(`${url}/web-page.test.ts`)).status).toBe(404);
  });

  it('scores a dropped-in video: score, level, description and a per-frame chart', async () => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await open();
    await page.getByLabel('Drop a video here, or choose a file').setInputFiles(good);
    const result = page.locator('[data-result="video"]');
    await result.locator('[data-role="score"]').waitFor({ timeout: 30_000 });
    const scoreText = await result.locator('[data-role="score"]').textContent();
    const score = Number(scoreText);
    expect(score).toBeGreaterThanOrEqual(1);
    expect(score).toBeLessThanOrEqual(5);
    expect(['bad', 'poor', 'fair', 'good', 'excellent']).toContain(await result.locator('[data-role="level"]').textContent());
    expect(await result.locator('[data-role="description"]').count()).toBe(1);
    // the chart: one point per key frame (M = 2 for micro), named for assistive technology
    const chart = result.getByRole('img', { name: /Score of each key frame of sharp\.mp4/ });
    await expect(chart.count()).resolves.toBe(1);
    const points = await chart.locator('circle').evaluateAll((nodes) => nodes.map((n) => Number(n.getAttribute('data-score'))));
    expect(points).toHaveLength(2);
    // the page shows the model's numbers (scoring is deterministic): the same file scored directly
    const expected = await scorer.score(good, { describe: true });
    expect(scoreText).toBe(expected.score.toFixed(2));
    expect(points).toEqual(expected.perFrame.map((value) => Number(value.toFixed(3))));
    expect(await result.locator('[data-role="level"]').textContent()).toBe(expected.level);
    await expect(page.getByRole('status').first().textContent()).resolves.toMatch(/Done/);
    expect(errors).toEqual([]);
  });

  it('compares two videos side by side and says which is better', async () => {
    await open();
    await page.getByRole('radio', { name: 'Compare two videos' }).check();
    await expect(page.locator('#compare-button').isDisabled()).resolves.toBe(true);
    await page.getByLabel(/Video A:/).setInputFiles(good);
    await page.getByLabel(/Video B:/).setInputFiles(bad);
    await page.getByRole('button', { name: 'Compare' }).click();
    const verdict = page.locator('#verdict');
    await verdict.waitFor({ state: 'visible', timeout: 30_000 });
    const a = Number(await page.locator('[data-result="a"] [data-role="score"]').textContent());
    const b = Number(await page.locator('[data-result="b"] [data-role="score"]').textContent());
    const better = await verdict.getAttribute('data-better');
    // the model's own verdict on the same pair
    const expected = await scorer.compare(good, bad);
    expect(expected.better).not.toBe('tie');
    expect(better).toBe(expected.better);
    expect([a, b]).toEqual([Number(expected.a.score.toFixed(2)), Number(expected.b.score.toFixed(2))]);
    if (better === 'a') expect(a).toBeGreaterThan(b);
    else expect(b).toBeGreaterThan(a);
    const text = (await verdict.textContent()) ?? '';
    expect(text).toMatch(new RegExp(`^${String(better).toUpperCase()} \\(${better === 'a' ? 'sharp' : 'noise'}\\.mp4\\) is better, by ${Math.abs(expected.difference).toFixed(2)}`));
    await expect(page.locator(`[data-result="${better}"]`).getAttribute('class')).resolves.toMatch(/winner/);
    await expect(page.locator(`[data-result="${better === 'a' ? 'b' : 'a'}"]`).getAttribute('class')).resolves.not.toMatch(/winner/);
    await expect(page.locator('[data-result="a"] svg circle').count()).resolves.toBe(2);
    await expect(page.locator('[data-result="b"] svg circle').count()).resolves.toBe(2);
  });

  it('shows the API error for a file that is not a video, readably', async () => {
    await open();
    await page.getByLabel('Drop a video here, or choose a file').setInputFiles(notVideo);
    const alert = page.getByRole('alert');
    await alert.waitFor({ state: 'visible', timeout: 15_000 });
    const text = (await alert.textContent()) ?? '';
    expect(text).toMatch(/^This is not a video the server can read\./);
    expect(text).toMatch(/notes\.mp4/);
    expect(text).not.toMatch(/spool|upload-/);
    await expect(page.locator('[data-result="video"]').isHidden()).resolves.toBe(true);
  });

  it('shows a too-large upload (413) readably', async () => {
    const small = await buildServer({ queue: new InProcessQueue({ processor: createScorerProcessor(scorer) }), config: { spoolDir, maxUploadBytes: 1000 }, defaultMetrics: false, plugins: [webPage()] });
    try {
      const smallUrl = await small.listen();
      await page.goto(`${smallUrl}/`);
      await page.waitForSelector('body[data-ready="true"]');
      await page.getByLabel('Drop a video here, or choose a file').setInputFiles(good);
      const alert = page.getByRole('alert');
      await alert.waitFor({ state: 'visible', timeout: 15_000 });
      expect(await alert.textContent()).toMatch(/^The file is too large for this server\. .*1000 bytes/);
    } finally {
      await small.shutdown({ drainTimeoutMs: 1000 });
    }
  });

  it('leaves no upload files and no ffmpeg processes behind', async () => {
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await entries(spoolDir)).toEqual([]);
    const commands = childPids()
      .filter((pid) => !pidsBefore.includes(pid))
      .map((pid) => {
        try {
          return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        } catch {
          return '';
        }
      });
    expect(commands.filter((name) => /ffmpeg|ffprobe/.test(name))).toEqual([]);
  });
});
