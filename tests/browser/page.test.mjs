// The page end to end in headless Chromium (playwright-core driving Debian's chromium):
// a demo run from model to scores, the request log (nothing beyond the page's own origin), and
// hostile dataset text rendered as text. Run by scripts/test.sh after `trunk build`.
//
//   node tests/browser/page.test.mjs DIST_DIR MODEL.gguf TINY.gguf [SCREENSHOT_DIR] [DATA_ROOT CLI]
//
// TINY.gguf is a small synthetic model for the quick flow through the test hooks; with DATA_ROOT
// (../shared/datasets) and the CLI binary, the page's answers on the first MedQA documents are
// compared with the CLI's.
import { launchChromium, serve } from './harness.mjs';
import fs from 'node:fs';
import path from 'node:path';

import { execFileSync } from 'node:child_process';
import os from 'node:os';

const [dist, model, tiny, shots, dataRoot, cli] = process.argv.slice(2);
if (!dist || !model || !tiny) {
  console.error('usage: page.test.mjs DIST_DIR MODEL.gguf TINY.gguf [SCREENSHOT_DIR] [DATA_ROOT CLI]');
  process.exit(2);
}
if (shots) fs.mkdirSync(shots, { recursive: true });
// Served as scripts/run.sh serves it (cross-origin isolated): the page runs the threaded engine,
// so the answers compared with the CLI below are those of the page on every core.
const { server, origin, served } = await serve(dist, { '/models/demo.gguf': model, '/models/tiny.gguf': tiny }, { isolate: true });

const browser = await launchChromium();
const failures = [];
// Each line says the seconds since the start, so a CI log shows where this test's time goes.
const started = Date.now();
const check = (ok, what) => {
  if (!ok) failures.push(what);
  console.log(`${ok ? 'ok  ' : 'FAIL'} [${Math.round((Date.now() - started) / 1000)} s] ${what}`);
};
try {
  const page = await browser.newPage();
  const requests = [];
  const errors = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('worker', (w) => w.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); }));

  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => document.querySelector('#status')?.textContent.startsWith('Ready'), null, { timeout: 60000 });
  check(true, 'the worker starts');
  // The GPU kernels' self-check on the browser's WebGPU adapter (SwiftShader here).
  await page.waitForFunction(() => document.querySelector('#gpu-check')?.dataset.ok !== undefined, null, { timeout: 180000 });
  const gpuLine = await page.textContent('[data-testid=gpu-check]');
  check(await page.getAttribute('[data-testid=gpu-check]', 'data-ok') === 'true' && gpuLine.includes('25 of 25 block formats agree'),
    `every block format's WebGPU kernels agree with the CPU in the browser (${gpuLine})`);
  check(gpuLine.includes('Top-k selection agrees with the CPU'), `the GPU's top-k selection agrees with the CPU's in the browser (${gpuLine})`);
  // The CPU backend's WebAssembly kernels (quant::wasm compiles only for the browser) against
  // the float64 reference, checked by the engine where they run.
  check(/CPU kernel check: 25 of 25 block formats agree with the reference/.test(gpuLine),
    `every block format's WebAssembly CPU kernel agrees with the reference in the browser (${gpuLine})`);
  if (shots) await page.screenshot({ path: path.join(shots, '1-empty.png') });

  // The quick flow through the test hooks: a tiny model file, a task, a dataset file, a run.
  const hostile = JSON.stringify({
    question: '<img src="https://evil.example/x.png" onerror="window.__pwned=1"><script>window.__pwned=2</script> <a href="javascript:window.__pwned=3">click</a> Which?',
    options: { A: '<b>bold</b>', B: 'javascript:alert(1)', C: 'c', D: 'd' }, answer_idx: 'A',
  }) + '\n';
  await page.setInputFiles('[data-testid=model-file]', tiny);
  await page.waitForSelector('[data-testid=model-card]', { timeout: 60000 });
  const placed = await page.textContent('[data-testid=backend]');
  check(placed.includes('cpu') && placed.includes('software adapter'), `on a software adapter the page runs the model on the CPU and says why (${placed})`);
  await page.waitForFunction(() => /logits/.test(document.querySelector('#gpu-check')?.textContent || ''), null, { timeout: 180000 });
  const forwardLine = await page.textContent('[data-testid=gpu-check]');
  check(forwardLine.includes(`logits of ${path.basename(tiny)} on WebGPU agree with the CPU's`) && await page.getAttribute('[data-testid=gpu-check]', 'data-ok') === 'true',
    `the small model's whole forward pass on WebGPU agrees with the CPU backend (${forwardLine})`);
  await page.selectOption('[data-testid=task]', 'medqa_4options');
  await page.setInputFiles('[data-testid=dataset-file]', { name: 'hostile.jsonl', mimeType: 'application/json', buffer: Buffer.from(hostile + hostile) });
  await page.fill('[data-testid=limit]', '2');
  await page.fill('[data-testid=shots]', '0');
  await page.click('[data-testid=run]');
  await page.waitForSelector('[data-testid=score-medqa_4options]', { timeout: 120000 });
  const score = Number(await page.textContent('[data-testid=score-medqa_4options]'));
  check(score >= 0 && score <= 1, `the score is a number (${score})`);
  check((await page.locator('[data-testid=sample]').count()) === 2, 'one explorer entry per sample');
  check(Number(await page.getAttribute('[data-testid=progress]', 'value')) === 2, 'the progress bar is full');
  check((await page.locator('a[href^="javascript"]').count()) === 0, 'no javascript: link comes from dataset text');
  // A model URL typed by the user, loaded on Enter.
  await page.fill('[data-testid=model-url]', `${origin}/models/tiny.gguf`);
  await page.press('[data-testid=model-url]', 'Enter');
  await page.waitForFunction(() => /Loaded tiny.gguf/.test(document.querySelector('#status')?.textContent || '') || document.querySelector('#error'), null, { timeout: 60000 });
  check((await page.textContent('[data-testid=model-card]')).includes('tiny.gguf'), 'a typed model URL loads');

  await page.click('#load-demo');
  await page.waitForFunction(() => /Loaded demo.gguf/.test(document.querySelector('#status')?.textContent || '') || document.querySelector('#error'), null, { timeout: 180000 });
  const card = await page.textContent('#model-card').catch(() => null);
  if (shots) await page.screenshot({ path: path.join(shots, '2-model-loaded.png') });
  check(card && card.includes('gemma3') || card && card.includes('llama'), `the model card shows the architecture (${card && card.slice(0, 80)})`);
  check(card && card.includes('cpu') && card.includes('CPU backend'), 'the model card names the backend and why');
  check(card && card.includes('?backend=webgpu forces'), 'the model card says how to force WebGPU');

  await page.selectOption('#task', 'demo_exam');
  await page.fill('#limit', '2');
  await page.click('#start');
  if (shots) {
    await page.waitForSelector('#live-prompt', { timeout: 60000 });
    await page.screenshot({ path: path.join(shots, '3-running.png') });
  }
  await page.waitForFunction(() => /^(Finished|Cancelled)/.test(document.querySelector('#status')?.textContent || '') || document.querySelector('#error'), null, { timeout: 300000 });
  const status = await page.textContent('#status');
  check(status.startsWith('Finished demo_exam'), `the demo run finishes (${status})`);
  const table = await page.textContent('#results-table');
  check(table.includes('demo_exam') && table.includes('acc'), 'the results table has the task and its accuracy');
  check((await page.locator('#sample-list li', { hasText: 'demo_exam #' }).count()) === 2, 'two samples in the explorer');
  const stats = await page.textContent('#stats');
  check(stats.includes('2 / 2') && /prefill [0-9.]+ tok\/s/.test(stats), `the progress line counts documents and speed (${stats})`);

  // Documents generated together: the first one is shown live, and Cancel is heard between two
  // steps of the model, not once the whole batch is done (then it would say "after 3").
  await page.selectOption('#task', 'demo_summary');
  await page.fill('#limit', '3');
  await page.click('#start');
  await page.waitForSelector('#live-text', { timeout: 120000 });
  const together = await page.textContent('#live-together');
  await page.click('#cancel');
  await page.waitForFunction(() => /^Cancelled demo_summary/.test(document.querySelector('#status')?.textContent || '') || document.querySelector('#error'), null, { timeout: 120000 });
  const cancelled = await page.textContent('#status');
  check(together.startsWith('3 documents generated together') && cancelled.startsWith('Cancelled demo_summary after 0 documents'),
    `documents generated together are said so, and Cancel stops the batch between steps (${together.slice(0, 40)} | ${cancelled})`);

  // Hostile text in a dataset stays text.
  await page.selectOption('#task', 'medqa_4options');
  await page.setInputFiles('#data-file', { name: 'hostile.jsonl', mimeType: 'application/json', buffer: Buffer.from(hostile) });
  await page.waitForSelector('#data-preview', { timeout: 30000 });
  const preview = await page.textContent('#data-preview');
  check(preview.includes('hostile.jsonl: jsonl, 1 records') && preview.includes('<script>'), `a dataset file is previewed before the run (${preview.slice(0, 60)})`);
  // A file dropped on the page becomes the task's dataset.
  await page.evaluate((text) => {
    const dt = new DataTransfer();
    dt.items.add(new File([text + text], 'dropped.jsonl'));
    document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, hostile);
  await page.waitForFunction(() => document.querySelector('#data-preview')?.textContent.includes('dropped.jsonl: jsonl, 2 records'), null, { timeout: 30000 });
  check(true, 'a dropped dataset file is taken and previewed');
  await page.setInputFiles('#data-file', { name: 'hostile.jsonl', mimeType: 'application/json', buffer: Buffer.from(hostile) });
  await page.fill('#limit', '1');
  await page.click('#start');
  await page.waitForFunction(() => /^Finished medqa_4options/.test(document.querySelector('#status')?.textContent || '') || document.querySelector('#error'), null, { timeout: 300000 });
  const pwned = await page.evaluate(() => window.__pwned);
  check(pwned === undefined, 'dataset text never runs as script');
  check((await page.locator('img, b').count()) === 0, 'dataset text never becomes elements');
  const shown = await page.evaluate(() => [...document.querySelectorAll('#sample-list pre.prompt')].map((e) => e.textContent).join('\n'));
  check(shown.includes('<img src="https://evil.example/x.png"'), 'the hostile text is shown literally');

  // The page's answers equal the CLI's on the first MedQA documents.
  if (dataRoot && cli && fs.existsSync(path.join(dataRoot, 'MedQA'))) {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-cli-'));
    execFileSync(cli, ['eval', '--model', model, '--task', 'medqa_4options', '--limit', '3', '--data-root', dataRoot, '--out', out], { stdio: 'ignore' });
    const cliPreds = fs.readFileSync(path.join(out, 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).map((x) => [x.pred, x.loglikelihoods]);
    await page.selectOption('#task', 'medqa_4options');
    await page.setInputFiles('#data-file', path.join(dataRoot, 'MedQA/questions/US/4_options/phrases_no_exclude_test.jsonl'));
    await page.fill('#limit', '3');
    await page.click('#start');
    // The status still says the last run finished until this one starts: wait for its samples.
    await page.waitForFunction(() => (/^Finished medqa_4options/.test(document.querySelector('#status')?.textContent || '')
      && [...document.querySelectorAll('#sample-list li')].filter((e) => e.textContent.includes('medqa_4options #')).length === 3)
      || document.querySelector('#error'), null, { timeout: 300000 });
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
    const pageSamples = JSON.parse(fs.readFileSync(await dl.path(), 'utf8')).samples.filter((x) => x.task === 'medqa_4options');
    const same = pageSamples.length === 3 && pageSamples.every((x, i) => x.pred === cliPreds[i][0]
      && x.loglikelihoods.every((l, k) => Math.abs(l - cliPreds[i][1][k]) < 1e-3));
    check(same, `the page's answers and loglikelihoods on the first 3 MedQA documents equal the CLI's (${pageSamples.map((x) => x.pred)} vs ${cliPreds.map((x) => x[0])})`);
  }
  if (shots) await page.screenshot({ path: path.join(shots, '4-results.png'), fullPage: true });

  // What a screen reader is given: the accessibility tree of the page with a model, a run and its
  // results on it. Every control has a name, the sections have headings, and the status line is
  // a live region.
  const tree = await page.locator('body').ariaSnapshot();
  const unnamed = tree.split('\n').filter((l) => /^\s*- (button|textbox|combobox|checkbox|spinbutton|searchbox|slider|progressbar|link)\b(?! ")/.test(l));
  check(unnamed.length === 0, `every control has an accessible name (${unnamed.slice(0, 3).join(' | ') || 'all named'})`);
  const headings = (tree.match(/- heading "[^"]+"/g) || []).length;
  check(headings >= 5, `the page's sections have headings a screen reader can jump between (${headings})`);
  check(/- status/.test(tree), 'the status line is a live region');

  // The speed of our engine on the loaded model.
  await page.click('#run-bench');
  await page.waitForSelector('#bench-result', { timeout: 120000 });
  const bench = await page.textContent('#bench-result');
  check(/prefill [0-9.]+ tok\/s, decode [0-9.]+ tok\/s/.test(bench), `the bench view measures speed (${bench})`);

  // Export the run as one JSON document, import it back as the other run: the paired test
  // finds no difference.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  const exported = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
  check(exported.version === 1 && exported.results.demo_exam.n === 2 && exported.results.demo_exam.scores[0].metric === 'acc'
    && exported.provenance.tasks.demo_exam.dataset.files[0].sha256.length === 64 && exported.provenance.model.sha256.length === 64
    && exported.samples.filter((x) => x.task === 'demo_exam').length === 2, 'the JSON export is the run report (results.json with its provenance) and the samples');
  if (cli) {
    // The CLI reads the page's export as a run: compared with itself, no difference.
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cb-export-')), 'export.json');
    fs.writeFileSync(file, JSON.stringify(exported));
    const lines = execFileSync(cli, ['compare', file, file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n').map((l) => JSON.parse(l));
    const acc = lines.find((l) => l.task === 'demo_exam' && l.comparison.metric === 'acc');
    check(acc && acc.comparison.n === 2 && acc.comparison.delta === 0, `the CLI reads the page's export (${JSON.stringify(acc)})`);
  }
  await page.setInputFiles('#import-run', { name: 'run.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(exported)) });
  await page.waitForSelector('#compare-table', { timeout: 30000 });
  const cmp = (await page.textContent('#compare-table')).replace(/\s+/g, ' ');
  check(/demo_exam\s*acc\s*2/.test(cmp) && cmp.includes('+0.0000') && cmp.includes('exact McNemar'), `two runs side by side with the paired test (${cmp.slice(0, 120)})`);

  // Several runs side by side: this page's run (the baseline), its own export imported back,
  // and two runs of other models from the fixtures; a table per scenario and a chart per task.
  await page.setInputFiles('#import-runs', [
    { name: 'run.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(exported)) },
    ...['run_a.json', 'run_b.json'].map((f) => ({ name: f, mimeType: 'application/json', buffer: fs.readFileSync(path.join('tests/fixtures/report', f)) })),
  ]);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=side-by-side] tbody tr').length > 0
    && [...document.querySelectorAll('[data-testid=side-by-side] tbody tr')].length % 4 === 0, null, { timeout: 30000 });
  const sbs = (await page.textContent('#side-by-side')).replace(/\s+/g, ' ');
  const sbsRows = await page.$$eval('[data-testid=side-by-side]', (ts) => ts.map((t) => t.querySelectorAll('tbody tr').length));
  const charts = await page.$$eval('[data-testid=task-chart]', (cs) => cs.length);
  const heads = await page.$$eval('[data-testid=side-by-side] thead th', (ths) => ths.map((t) => t.textContent));
  check(sbsRows.every((n) => n === 4) && charts >= 5 && heads.some((h) => h.startsWith('demo_exam')) && heads.some((h) => h.startsWith('medqa_4options')),
    `four runs side by side, a table per scenario and a chart per task (${sbsRows}, ${charts} charts)`);
  check(/\(baseline\)/.test(sbs) && /\+0\.000 \(n = 2\)/.test(sbs), `the export against this page's run: paired, no difference (${sbs.slice(0, 160)})`);
  if (shots) await (await page.$('#side-by-side')).screenshot({ path: path.join(shots, '7-side-by-side.png') });

  // A reload during a run: the finished samples are in IndexedDB and the run goes on from them
  // once the same model (checked by SHA-256) is loaded again.
  await page.selectOption('#task', 'demo_exam');
  await page.fill('#limit', '5');
  await page.click('#start');
  await page.waitForFunction(() => [...document.querySelectorAll('#sample-list li')].filter((e) => e.textContent.includes('demo_exam #')).length >= 2, null, { timeout: 120000 });
  await page.waitForTimeout(300);
  await page.reload();
  await page.waitForSelector('#interrupted', { timeout: 30000 });
  const notice = await page.textContent('#interrupted');
  check(/A run of demo_exam stopped after [1-4] documents/.test(notice), `the interrupted run is offered (${notice.slice(0, 90)})`);
  check(await page.isDisabled('#resume-run'), 'resuming waits for the same model');
  await page.waitForFunction(() => document.querySelector('#status')?.textContent.startsWith('Ready'), null, { timeout: 60000 });
  // The model fetched before the reload was kept in the browser's private storage (OPFS).
  await page.click('#load-kept');
  await page.waitForSelector('#model-card', { timeout: 180000 });
  check((await page.textContent('#status')).includes("from this browser's storage"), 'the kept model loads from browser storage');
  await page.click('#resume-run');
  await page.waitForFunction(() => /^Finished demo_exam/.test(document.querySelector('#status')?.textContent || '') || document.querySelector('#error'), null, { timeout: 300000 });
  check((await page.locator('#sample-list li', { hasText: 'demo_exam #' }).count()) === 5, 'the resumed run has all five samples');
  const row = await page.textContent('#results-table');
  check(/demo_exam\s*acc[0-9.]+\[[^\]]*\]5/.test(row.replace(/\s+/g, '')), 'its results count five documents');
  await page.reload();
  await page.waitForFunction(() => document.querySelector('#status')?.textContent.startsWith('Ready'), null, { timeout: 60000 });
  check((await page.locator('#interrupted').count()) === 0, 'a finished run is not offered again');
  check((await page.textContent('#benchmark')).includes('ClinicBench Web demo set'), 'the task shown is the task selected');
  await page.click('#load-demo');
  await page.waitForSelector('#model-card', { timeout: 180000 });
  check((await page.textContent('#status')).includes("from this browser's storage"), 'a URL loaded before comes from browser storage');
  check(served.filter((p) => p === '/models/demo.gguf').length === 1, 'the model was downloaded once');
  // A narrow screen: nothing wider than the viewport.
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `usable on a narrow screen (overflow ${overflow}px)`);
  if (shots) await page.screenshot({ path: path.join(shots, '5-narrow.png') });
  // The model on WebGPU (forced: SwiftShader is a software adapter): a task through the page on
  // the GPU backend gives the answers the CLI gives on the CPU.
  const gpuPage = await browser.newPage();
  gpuPage.on('request', (r) => requests.push(r.url()));
  gpuPage.on('pageerror', (e) => errors.push(String(e)));
  gpuPage.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  // The worker's "ready" reaches the page 2 s late, so the demo model below is surely picked
  // before it: `?backend=` must still hold (what the page sends waits for the worker, in order).
  await gpuPage.addInitScript(() => {
    const slot = Object.getOwnPropertyDescriptor(Worker.prototype, 'onmessage');
    Object.defineProperty(Worker.prototype, 'onmessage', {
      get() { return slot.get.call(this); },
      set(handler) {
        slot.set.call(this, (ev) => {
          if (ev.data && ev.data.kind === 'ready') setTimeout(() => { window.__workerReady = true; handler(ev); }, 2000);
          else handler(ev);
        });
      },
    });
  });
  await gpuPage.goto(`${origin}/?backend=webgpu`);
  // The demo model picked at once, before the worker says it is ready: `?backend=` still holds.
  // A fresh worker loads it (kept in OPFS) onto WebGPU: its weights go to the GPU a piece at a
  // time, and the worker's WebAssembly memory stays far below the file's size.
  await gpuPage.click('#load-demo');
  const pickedBeforeReady = await gpuPage.evaluate(() => window.__workerReady !== true);
  await gpuPage.waitForFunction(() => /Loaded demo.gguf/.test(document.querySelector('#status')?.textContent || '') || document.querySelector('#error'), null, { timeout: 300000 });
  const demoBytes = fs.statSync(model).size;
  const wasmBytes = Number(await gpuPage.getAttribute('#worker-memory', 'data-bytes'));
  check((await gpuPage.textContent('[data-testid=backend]')).startsWith('wgpu on') && wasmBytes > 0 && wasmBytes < 0.5 * demoBytes,
    `on WebGPU the demo model (${(demoBytes / 2 ** 20).toFixed(0)} MiB) loads with ${(wasmBytes / 2 ** 20).toFixed(0)} MiB of wasm memory in the worker`);
  check(pickedBeforeReady, 'the demo model was picked before the worker was ready, and still went to WebGPU as ?backend= asked');
  await gpuPage.setInputFiles('[data-testid=model-file]', tiny);
  await gpuPage.waitForSelector('[data-testid=model-card]', { timeout: 120000 });
  const onGpu = await gpuPage.textContent('[data-testid=backend]');
  check(onGpu.startsWith('wgpu on') && onGpu.includes('?backend=webgpu asked for WebGPU'), `?backend=webgpu runs the model on WebGPU (${onGpu})`);
  const gpuData = hostile.replace('Which?', 'Which one?') + hostile;
  await gpuPage.selectOption('[data-testid=task]', 'medqa_4options');
  await gpuPage.setInputFiles('[data-testid=dataset-file]', { name: 'gpu.jsonl', mimeType: 'application/json', buffer: Buffer.from(gpuData) });
  await gpuPage.fill('[data-testid=limit]', '2');
  await gpuPage.click('[data-testid=run]');
  await gpuPage.waitForFunction(() => /^Finished medqa_4options/.test(document.querySelector('#status')?.textContent || '') || document.querySelector('#error'), null, { timeout: 300000 });
  const [gpuDl] = await Promise.all([gpuPage.waitForEvent('download'), gpuPage.click('#export-json')]);
  const gpuSamples = JSON.parse(fs.readFileSync(await gpuDl.path(), 'utf8')).samples.filter((x) => x.task === 'medqa_4options');
  if (cli) {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-cli-'));
    fs.writeFileSync(path.join(out, 'gpu.jsonl'), gpuData);
    execFileSync(cli, ['eval', '--model', tiny, '--backend', 'cpu', '--task', 'medqa_4options', '--limit', '2', '--data', path.join(out, 'gpu.jsonl'), '--out', out], { stdio: 'ignore' });
    const cpuSamples = fs.readFileSync(path.join(out, 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const agree = gpuSamples.length === 2 && gpuSamples.every((x, i) => x.pred === cpuSamples[i].pred
      && x.loglikelihoods.every((l, k) => Math.abs(l - cpuSamples[i].loglikelihoods[k]) < 1e-3));
    check(agree, `on WebGPU the page's answers and loglikelihoods equal the CLI's on the CPU (${gpuSamples.map((x) => x.loglikelihoods.map((l) => l.toFixed(4)))} vs ${cpuSamples.map((x) => x.loglikelihoods.map((l) => l.toFixed(4)))})`);
  } else {
    check(gpuSamples.length === 2, 'a task runs on WebGPU in the page');
  }
  await gpuPage.close();
  const foreign = requests.filter((u) => !u.startsWith(origin + '/') && !u.startsWith('blob:') && !u.startsWith('data:'));
  check(foreign.length === 0, `no request beyond the page's origin (${foreign.join(', ') || 'none'})`);
  check(errors.length === 0, `no errors in the console (${errors.slice(0, 3).join(' | ')})`);
} catch (e) {
  failures.push(String(e));
  console.log(`FAIL ${e}`);
} finally {
  await browser.close();
}

// The same page without WebGPU: the CPU backend runs the model, and the page says why.
const noGpu = await launchChromium({ webgpu: false });
try {
  const page = await noGpu.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${origin}/?backend=webgpu`);
  await page.waitForFunction(() => document.querySelector('#gpu-check')?.dataset.ok !== undefined, null, { timeout: 120000 });
  const line = await page.textContent('[data-testid=gpu-check]');
  check(line.startsWith('No WebGPU adapter') && line.includes('CPU backend'), `without WebGPU the page says the CPU runs the model (${line})`);
  await page.setInputFiles('[data-testid=model-file]', tiny);
  await page.waitForSelector('[data-testid=model-card]', { timeout: 60000 });
  check((await page.textContent('[data-testid=backend]')).includes('cpu'), 'without WebGPU a model loads on the CPU backend');
  check(errors.length === 0, `no page errors without WebGPU (${errors.slice(0, 3).join(' | ')})`);
} catch (e) {
  failures.push(String(e));
  console.log(`FAIL ${e}`);
} finally {
  await noGpu.close();
  server.close();
}
console.log(`served: ${[...new Set(served)].join(' ')}`);
process.exit(failures.length ? 1 : 0);
