// A LoRA adapter in the page: picked beside a model (with its scale), the model reloaded with
// it, the card and the exported report naming it (file, SHA-256, scale, alpha), the page's
// loglikelihoods equal to the CLI's with the same adapter, a model file given as an adapter
// refused with the reason, and the adapters removed again. Run by scripts/test.sh:
//
//   node tests/browser/lora.test.mjs DIST_DIR BASE.gguf ADAPTER.gguf NOT_AN_ADAPTER.gguf CLI
import { launchChromium, serve } from './harness.mjs';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [dist, base, adapter, notAdapter, cli] = process.argv.slice(2);
if (!dist || !base || !adapter || !notAdapter || !cli) {
  console.error('usage: lora.test.mjs DIST_DIR BASE.gguf ADAPTER.gguf NOT_AN_ADAPTER.gguf CLI');
  process.exit(2);
}
const { server, origin } = await serve(dist);
const browser = await launchChromium({ webgpu: false });
const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`); };
const status = (page) => page.textContent('#status');
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => document.querySelector('#status')?.textContent.startsWith('Ready'), null, { timeout: 60000 });

  // The model first, then the adapter at 0.75: the model reloads with it.
  await page.setInputFiles('[data-testid=model-file]', base);
  await page.waitForSelector('[data-testid=model-card]', { timeout: 60000 });
  await page.fill('[data-testid=adapter-scale]', '0.75');
  await page.setInputFiles('[data-testid=adapter-file]', adapter);
  await page.waitForFunction(() => /with LoRA/.test(document.querySelector('#status')?.textContent || '') || document.querySelector('#error'), null, { timeout: 60000 });
  const name = path.basename(adapter, '.gguf');
  check((await status(page)).includes(`with LoRA ${name} ×0.75`), `the model reloads with the adapter at its scale (${await status(page)})`);
  const sha = crypto.createHash('sha256').update(fs.readFileSync(adapter)).digest('hex');
  const card = await page.textContent('[data-testid=model-adapters]');
  check(card.includes(`${name} ×0.75`) && card.includes(sha.slice(0, 12)), `the model card names the adapter, its scale and SHA-256 (${card})`);

  // A run with the adapter: the same loglikelihoods as the CLI's with --lora-scaled.
  await page.selectOption('#task', 'demo_exam');
  await page.fill('#limit', '2');
  await page.click('#start');
  await page.waitForFunction(() => /^Finished demo_exam/.test(document.querySelector('#status')?.textContent || '') || document.querySelector('#error'), null, { timeout: 300000 });
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  const exported = JSON.parse(fs.readFileSync(await dl.path(), 'utf8'));
  const recorded = exported.provenance?.model?.adapters || [];
  check(recorded.length === 1 && recorded[0].sha256 === sha && recorded[0].scale === 0.75 && recorded[0].alpha === 16,
    `the exported report records the adapter (${JSON.stringify(recorded)})`);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-lora-'));
  execFileSync(cli, ['eval', '--model', base, '--task', 'demo_exam', '--limit', '2', '--data-root', '/nonexistent', '--backend', 'cpu',
    '--lora-scaled', adapter, '0.75', '--out', out], { stdio: 'ignore' });
  const cliSamples = fs.readFileSync(path.join(out, 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const pageSamples = exported.samples.filter((x) => x.task === 'demo_exam');
  const same = pageSamples.length === 2 && pageSamples.every((x, i) => x.loglikelihoods.every((l, k) => Math.abs(l - cliSamples[i].loglikelihoods[k]) < 1e-3));
  check(same, `the page's loglikelihoods with the adapter equal the CLI's (${pageSamples.map((x) => x.loglikelihoods[0])} vs ${cliSamples.map((x) => x.loglikelihoods[0])})`);
  fs.rmSync(out, { recursive: true, force: true });

  // A model file given as an adapter: refused with the reason; removing the adapters reloads
  // the model without any.
  await page.setInputFiles('[data-testid=adapter-file]', notAdapter);
  await page.waitForSelector('#error', { timeout: 60000 });
  const err = await page.textContent('#error');
  check(err.includes('not an adapter'), `a model file given as an adapter is refused with the reason (${err})`);
  await page.click('#clear-adapters');
  await page.waitForFunction(() => /^Loaded/.test(document.querySelector('#status')?.textContent || '') && !/LoRA/.test(document.querySelector('#status')?.textContent), null, { timeout: 60000 });
  check((await page.locator('[data-testid=model-adapters]').count()) === 0, 'without adapters the card lists none');
  check(errors.length === 0, `no page errors (${errors.join('; ')})`);
} finally {
  await browser.close();
  server.close();
}
if (failures.length) {
  console.error(`${failures.length} failed`);
  process.exit(1);
}
