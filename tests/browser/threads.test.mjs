// The page's threaded engine (WebAssembly threads, scripts/build-worker-threads.sh): served
// cross-origin isolated the page runs the model on every core, in the relaxed-SIMD build where the
// browser has relaxed SIMD (Chromium does); with 1, 2 and 3 threads its loglikelihoods are
// identical to each other and within 1e-3 of the CLI's, and a generation task's texts (documents
// generated together) equal to the CLI's; the SIMD128 build (?simd=128) gives the same answers;
// not isolated it runs one thread and says why; a threaded engine that cannot start gives way to
// the plain one (and the card says why); a thread worker that dies gives a clear error, not a
// hang. Run by scripts/test.sh:
//
//   node tests/browser/threads.test.mjs DIST_DIR MODEL.gguf CLI
import { launchChromium, serve } from './harness.mjs';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [dist, model, cli] = process.argv.slice(2);
if (!dist || !model || !cli) {
  console.error('usage: threads.test.mjs DIST_DIR MODEL.gguf CLI');
  process.exit(2);
}
const isolated = await serve(dist, {}, { isolate: true });
const plain = await serve(dist);
// A thread worker that starts over the engine's memory and then dies, as one that runs out of
// memory would: the engine is left waiting for it.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-threads-'));
const dying = path.join(tmp, 'thread.js');
fs.writeFileSync(dying, fs.readFileSync(path.join(dist, 'thread.js'), 'utf8')
  .replace('wasm_bindgen.clinicbench_thread_run();', 'throw new Error("this thread worker died");'));
const broken = await serve(dist, { '/thread.js': dying }, { isolate: true });
// A threaded engine that cannot start (here: its WebAssembly is not WebAssembly).
const junk = path.join(tmp, 'junk.wasm');
fs.writeFileSync(junk, 'not WebAssembly');
const unstartable = await serve(dist, { '/clinicbench-worker-threads_bg.wasm': junk, '/clinicbench-worker-threads-relaxed_bg.wasm': junk }, { isolate: true });

const browser = await launchChromium({ webgpu: false });
const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`); };
const ready = (page) => page.waitForFunction(() => document.querySelector('#status')?.textContent.startsWith('Ready'), null, { timeout: 60000 });

// The demo exam's loglikelihoods on `threads` threads (0: the page's own choice); `query` adds to
// the page's address.
async function run(origin, threads, query = '') {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${origin}/?backend=cpu${threads ? `&threads=${threads}` : ''}${query}`);
  await ready(page);
  await page.setInputFiles('[data-testid=model-file]', model);
  await page.waitForSelector('[data-testid=model-card]', { timeout: 60000 });
  const line = await page.textContent('[data-testid=threads]');
  const running = Number(await page.getAttribute('[data-testid=threads]', 'data-threads'));
  const backend = await page.textContent('[data-testid=backend]');
  await page.selectOption('#task', 'demo_exam');
  await page.fill('#limit', '2');
  await page.click('#start');
  await page.waitForFunction(() => /^Finished demo_exam/.test(document.querySelector('#status')?.textContent || '') || document.querySelector('#error'), null, { timeout: 300000 });
  // A generation task: its three documents generated together (the page's batches).
  await page.selectOption('#task', 'demo_summary');
  await page.fill('#limit', '3');
  await page.click('#start');
  await page.waitForFunction(() => /^Finished demo_summary/.test(document.querySelector('#status')?.textContent || '') || document.querySelector('#error'), null, { timeout: 300000 });
  const together = (await page.locator('#live-together').count()) ? await page.textContent('#live-together') : '';
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  const all = JSON.parse(fs.readFileSync(await dl.path(), 'utf8')).samples;
  const samples = all.filter((x) => x.task === 'demo_exam');
  const texts = all.filter((x) => x.task === 'demo_summary').map((x) => x.generation);
  await page.close();
  return { line, running, backend, lls: samples.map((x) => x.loglikelihoods), texts, together, errors };
}

try {
  const out = fs.mkdtempSync(path.join(tmp, 'cli-'));
  execFileSync(cli, ['eval', '--model', model, '--task', 'demo_exam', '--limit', '2', '--data-root', '/nonexistent', '--backend', 'cpu', '--out', out], { stdio: 'ignore' });
  const cliLls = fs.readFileSync(path.join(out, 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).loglikelihoods);
  const gen = fs.mkdtempSync(path.join(tmp, 'cli-gen-'));
  execFileSync(cli, ['eval', '--model', model, '--task', 'demo_summary', '--limit', '3', '--data-root', '/nonexistent', '--backend', 'cpu', '--out', gen], { stdio: 'ignore' });
  const cliTexts = fs.readFileSync(path.join(gen, 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).generation);

  const runs = {};
  for (const n of [1, 2, 3]) {
    const r = await run(isolated.origin, n);
    runs[n] = r;
    check(r.running === n && r.backend.startsWith(n === 1 ? 'cpu (1 thread)' : `cpu (${n} threads)`) && r.errors.length === 0,
      `?threads=${n} on a cross-origin isolated page runs ${n} thread(s) (${r.line} | ${r.backend})`);
    check(r.line.includes('WebAssembly threads, relaxed SIMD, fused multiply-add'),
      `?threads=${n}: the threaded build with relaxed SIMD, as this browser has it (${r.line})`);
  }
  const same = (a, b) => a.length === 2 && JSON.stringify(a) === JSON.stringify(b);
  // Loglikelihoods of another arithmetic (fused or not): within 1e-3, and the same answer chosen.
  const argmax = (l) => l.indexOf(Math.max(...l));
  const close = (a, b) => a.length === b.length && a.length > 0
    && a.every((l, i) => argmax(l) === argmax(b[i]) && l.every((v, k) => Math.abs(v - b[i][k]) < 1e-3));
  check(same(runs[1].lls, runs[2].lls) && same(runs[1].lls, runs[3].lls),
    `loglikelihoods with 1, 2 and 3 threads are identical (${runs[1].lls[0]} | ${runs[2].lls[0]} | ${runs[3].lls[0]})`);
  check(runs[2].lls.every((l, i) => l.every((v, k) => Math.abs(v - cliLls[i][k]) < 1e-3)),
    `the threaded page's loglikelihoods are within 1e-3 of the CLI's (${runs[2].lls[0]} vs ${cliLls[0]})`);
  // Generation batched across documents: the same texts on 1, 2 and 3 threads as the CLI's
  // (which batches too), and the page says the documents ran together.
  check(cliTexts.length === 3 && [1, 2, 3].every((n) => JSON.stringify(runs[n].texts) === JSON.stringify(cliTexts)),
    `documents generated together in the page: the same texts on 1, 2 and 3 threads as the CLI's (${JSON.stringify(runs[2].texts[0])} vs ${JSON.stringify(cliTexts[0])})`);
  check(runs[2].together.startsWith('3 documents generated together'), `the run section says documents run together (${runs[2].together.slice(0, 60)})`);

  // The SIMD128 threaded build, asked for: the same answers, and the card says which build.
  const simd128 = await run(isolated.origin, 2, '&simd=128');
  check(simd128.running === 2 && simd128.line.includes('SIMD128, as ?simd=128 asks') && simd128.errors.length === 0,
    `?simd=128 runs the SIMD128 threaded build and says so (${simd128.line})`);
  check(close(simd128.lls, runs[2].lls) && JSON.stringify(simd128.texts) === JSON.stringify(cliTexts),
    `the SIMD128 build's answers equal the relaxed build's, loglikelihoods within 1e-3 (${simd128.lls[0]} | ${runs[2].lls[0]}), texts equal to the CLI's`);

  // By default: the browser's cores (two here), capped.
  const cores = await (async () => { const p = await browser.newPage(); await p.goto(`${plain.origin}/`); const c = await p.evaluate(() => navigator.hardwareConcurrency); await p.close(); return c; })();
  const auto = await run(isolated.origin, 0);
  check(auto.running === Math.min(cores, 8), `without ?threads the page runs one thread a core (${cores} cores: ${auto.line})`);

  // Not isolated (a host that sends no headers, before the service worker): one thread, and why.
  const page = await browser.newPage();
  await page.goto(`${plain.origin}/?backend=cpu`);
  await ready(page);
  const line = await page.textContent('[data-testid=threads]');
  check(line.includes('one thread') && line.includes('not cross-origin isolated'), `a page that is not isolated runs one thread and says why (${line})`);
  await page.close();

  // A threaded engine that cannot start: the plain engine runs instead, and the card says why.
  const fallback = await run(unstartable.origin, 2);
  check(fallback.running === 1 && /threaded engine did not start/.test(fallback.line) && close(fallback.lls, runs[1].lls),
    `a threaded engine that cannot start falls back to one thread and says why, with the same answers (${fallback.line})`);

  // A thread worker that dies: the page says so, in bounded time, instead of waiting forever.
  const dead = await browser.newPage();
  await dead.goto(`${broken.origin}/?backend=cpu`);
  const started = Date.now();
  await dead.waitForFunction(() => /engine thread stopped/.test(document.querySelector('#error')?.textContent || ''), null, { timeout: 30000 }).catch(() => {});
  const err = (await dead.locator('#error').count()) ? await dead.textContent('#error') : '(no error shown)';
  check(err.includes('An engine thread stopped') && err.includes('this thread worker died'),
    `a thread worker that dies stops the engine with a message in ${Date.now() - started} ms (${err})`);
  await dead.close();
} finally {
  await browser.close();
  for (const s of [isolated, plain, broken, unstartable]) s.server.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}
if (failures.length) {
  console.error(`${failures.length} failed`);
  process.exit(1);
}
