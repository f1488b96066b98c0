// A model the size of a 4B-parameter Q4 model (scripts/make_large_model.py: 3.6 B parameters,
// 2.0 GB of Q4_K) loads onto WebGPU in headless Chromium, read from its File a piece at a time:
// the worker's WebAssembly memory stays a small fraction of the file. Run by scripts/test.sh.
//
//   node tests/browser/large_model.test.mjs DIST_DIR LARGE.gguf
import { launchChromium, serve } from './harness.mjs';
import fs from 'node:fs';
import path from 'node:path';

const [dist, model] = process.argv.slice(2);
if (!dist || !model) {
  console.error('usage: large_model.test.mjs DIST_DIR LARGE.gguf');
  process.exit(2);
}
const { server, origin } = await serve(dist);
const browser = await launchChromium();
let ok = false;
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${origin}/?backend=webgpu`);
  await page.waitForFunction(() => document.querySelector('#gpu-check')?.dataset.ok !== undefined, null, { timeout: 180000 });
  const t0 = Date.now();
  await page.setInputFiles('[data-testid=model-file]', model);
  await page.waitForFunction(() => document.querySelector('#model-card') || document.querySelector('#error'), null, { timeout: 1200000 });
  const seconds = (Date.now() - t0) / 1000;
  const error = await page.locator('#error').count() ? await page.textContent('#error') : null;
  const backend = error ? '' : await page.textContent('[data-testid=backend]');
  const memory = error ? 0 : Number(await page.getAttribute('#worker-memory', 'data-bytes'));
  const size = fs.statSync(model).size;
  ok = !error && backend.startsWith('wgpu on') && memory > 0 && memory < 0.1 * size && errors.length === 0;
  console.log(`${ok ? 'ok  ' : 'FAIL'} a ${(size / 2 ** 30).toFixed(2)} GiB model loads onto WebGPU in ${seconds.toFixed(0)} s `
    + `with ${(memory / 2 ** 20).toFixed(0)} MiB of wasm memory in the worker (${error || backend}${errors.length ? `; ${errors[0]}` : ''})`);
} catch (e) {
  console.log(`FAIL ${e}`);
} finally {
  await browser.close();
  server.close();
}
process.exit(ok ? 0 : 1);
