// The benchmark build's Speed section in headless Chromium: our engine and wllama (llama.cpp in
// WebAssembly) on the same model file in the same browser, one JSON line with both and the
// ratios. A benchmark, not a test: it asserts nothing about speed. scripts/bench-page.sh runs it.
//
//   [THREADS=N] [QUERY=simd=128] node tests/browser/bench.mjs DIST_BENCH_DIR MODEL.gguf [cpu|webgpu]
import { launchChromium, serve } from './harness.mjs';
import fs from 'node:fs';
import path from 'node:path';

const [dist, model, backend = 'cpu'] = process.argv.slice(2);
if (!dist || !model) {
  console.error('usage: bench.mjs DIST_BENCH_DIR MODEL.gguf [cpu|webgpu]');
  process.exit(2);
}
// Served cross-origin isolated, as scripts/run.sh serves the page: ours and wllama both get
// every core (the same number of threads each; ?threads=N in THREADS sets ours, wllama follows).
// QUERY adds to our page's address (QUERY=simd=128: the SIMD128 build, not the relaxed-SIMD one).
const { server, origin } = await serve(dist, {}, { isolate: true });
// WebGPU only for a webgpu run: a CPU run does not wait for the start-up kernel check (~30 s on
// SwiftShader) before the model loads.
const browser = await launchChromium({ hardwareGpu: true, webgpu: backend === 'webgpu' });
let code = 0;
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${origin}/?backend=${backend}${process.env.THREADS ? `&threads=${process.env.THREADS}` : ''}${process.env.QUERY ? `&${process.env.QUERY}` : ''}`);
  await page.waitForFunction(() => document.querySelector('#status')?.textContent.startsWith('Ready'), null, { timeout: 60000 });
  await page.setInputFiles('[data-testid=model-file]', model);
  await page.waitForSelector('[data-testid=model-card]', { timeout: 600000 });
  await page.click('#run-bench');
  await page.waitForSelector('#bench-peer', { timeout: 1800000 });
  const ours = await page.textContent('#bench-result');
  const peer = await page.textContent('#bench-peer');
  const num = (re, s) => Number((s.match(re) || [])[1]);
  const result = {
    model: path.basename(model),
    browser: `Chromium ${browser.version()}`,
    gpu: await page.textContent('[data-testid=gpu-check]'),
    backend: await page.textContent('[data-testid=backend]'),
    threads: Number(await page.getAttribute('[data-testid=threads]', 'data-threads')),
    cpu: await page.textContent('[data-testid=threads]'),
    ours: { prefill_tok_s: num(/prefill ([0-9.]+) tok\/s/, ours), decode_tok_s: num(/decode ([0-9.]+) tok\/s/, ours) },
    peer: (peer.match(/^(.*?), same file/) || [])[1],
    peer_text: peer,
    peer_tok_s: { prefill: num(/prefill ([0-9.]+) tok\/s/, peer), decode: num(/decode ([0-9.]+) tok\/s/, peer) },
    ratio: { prefill: num(/prefill ([0-9.]+)x/, peer), decode: num(/decode ([0-9.]+)x/, peer) },
    errors,
  };
  console.log(JSON.stringify(result));
  if (!Number.isFinite(result.ratio.decode)) code = 1;
} catch (e) {
  console.error(String(e));
  code = 1;
} finally {
  await browser.close();
  server.close();
}
process.exit(code);
