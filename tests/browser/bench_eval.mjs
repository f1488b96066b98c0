// A task run in the page, timed: documents per second as a user sees them (headless Chromium,
// cross-origin isolated, the CPU backend), for the page's projection of a full suite and for
// generation batched across documents against one at a time. A benchmark, not a test: it
// asserts nothing about speed.
//
//   [QUERY=simd=128] node tests/browser/bench_eval.mjs DIST_DIR MODEL.gguf TASK DATA_FILE LIMIT [BATCH [THREADS]]
//
// QUERY adds to the page's address (simd=128: the SIMD128 build, not the relaxed-SIMD one);
// SAMPLES_OUT=FILE keeps the exported samples (to compare answers with the CLI's).
//
// One JSON line: seconds from Start to Finished, documents, documents per second, the page's
// own speed line, and the generated texts' SHA-256 (to compare batch sizes).
import { launchChromium, serve } from './harness.mjs';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const [dist, model, task, dataFile, limit, batch, threads] = process.argv.slice(2);
if (!dist || !model || !task || !dataFile || !limit) {
  console.error('usage: bench_eval.mjs DIST_DIR MODEL.gguf TASK DATA_FILE LIMIT [BATCH [THREADS]]');
  process.exit(2);
}
const { server, origin } = await serve(dist, {}, { isolate: true });
const browser = await launchChromium({ webgpu: false });
let code = 0;
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const query = ['backend=cpu', batch ? `batch=${batch}` : '', threads ? `threads=${threads}` : '', process.env.QUERY || ''].filter(Boolean).join('&');
  await page.goto(`${origin}/?${query}`);
  await page.waitForFunction(() => document.querySelector('#status')?.textContent.startsWith('Ready'), null, { timeout: 60000 });
  await page.setInputFiles('[data-testid=model-file]', model);
  await page.waitForSelector('[data-testid=model-card]', { timeout: 600000 });
  await page.selectOption('#task', task);
  await page.setInputFiles('#data-file', dataFile);
  await page.waitForSelector('#data-preview', { timeout: 60000 });
  await page.fill('#limit', limit);
  await page.fill('#shots', '0');
  const t0 = Date.now();
  await page.click('#start');
  await page.waitForFunction((t) => new RegExp(`^Finished ${t}`).test(document.querySelector('#status')?.textContent || '') || document.querySelector('#error'),
    task, { timeout: 3600000, polling: 100 });
  const seconds = (Date.now() - t0) / 1000;
  const error = (await page.locator('#error').count()) ? await page.textContent('#error') : null;
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  const samples = JSON.parse(fs.readFileSync(await dl.path(), 'utf8')).samples.filter((x) => x.task === task);
  const texts = samples.map((x) => x.generation ?? JSON.stringify(x.loglikelihoods));
  if (process.env.SAMPLES_OUT) fs.writeFileSync(process.env.SAMPLES_OUT, JSON.stringify(samples));
  console.log(JSON.stringify({
    task,
    model: path.basename(model),
    batch: batch ? Number(batch) : null,
    threads: Number(await page.getAttribute('[data-testid=threads]', 'data-threads')),
    documents: samples.length,
    seconds,
    documents_per_second: samples.length / seconds,
    speed: await page.textContent('#stats'),
    texts_sha256: crypto.createHash('sha256').update(JSON.stringify(texts)).digest('hex').slice(0, 16),
    error,
    errors,
  }));
  if (error || samples.length === 0) code = 1;
} catch (e) {
  console.error(String(e));
  code = 1;
} finally {
  await browser.close();
  server.close();
}
process.exit(code);
