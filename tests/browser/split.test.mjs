// A split model in the page: its parts picked together (in any order) load as one model whose
// answers equal the CLI's on the unsplit file and whose SHA-256 is that of the parts in order;
// a missing part is named by its file name and a part of another model is refused; and a model
// whose chat template doubles a string stops its run with the template's message. Run by
// scripts/test.sh:
//
//   node tests/browser/split.test.mjs DIST_DIR SPLIT_DIR UNSPLIT.gguf CLI
import { launchChromium, serve } from './harness.mjs';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [dist, splitDir, unsplit, cli] = process.argv.slice(2);
if (!dist || !splitDir || !unsplit || !cli) {
  console.error('usage: split.test.mjs DIST_DIR SPLIT_DIR UNSPLIT.gguf CLI');
  process.exit(2);
}
const part = (k) => path.join(splitDir, `llama-0000${k}-of-00003.gguf`);
const { server, origin } = await serve(dist);
const browser = await launchChromium({ webgpu: false });
const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`); };
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => document.querySelector('#status')?.textContent.startsWith('Ready'), null, { timeout: 60000 });

  // The three parts, picked out of order.
  await page.setInputFiles('[data-testid=model-file]', [part(3), part(1), part(2)]);
  await page.waitForFunction(() => /^Loaded/.test(document.querySelector('#status')?.textContent || '') || document.querySelector('#error'), null, { timeout: 60000 });
  const status = await page.textContent('#status');
  check(status.includes('Loaded llama-00001-of-00003.gguf'), `the parts load as one model (${status})`);

  await page.selectOption('#task', 'demo_exam');
  await page.fill('#limit', '2');
  await page.click('#start');
  await page.waitForFunction(() => /^Finished demo_exam/.test(document.querySelector('#status')?.textContent || '') || document.querySelector('#error'), null, { timeout: 300000 });
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  const exported = JSON.parse(fs.readFileSync(await dl.path(), 'utf8'));
  const sha = crypto.createHash('sha256');
  for (const k of [1, 2, 3]) sha.update(fs.readFileSync(part(k)));
  check(exported.provenance?.model?.sha256 === sha.digest('hex'), 'the model SHA-256 is that of the parts in order');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-split-'));
  execFileSync(cli, ['eval', '--model', unsplit, '--task', 'demo_exam', '--limit', '2', '--data-root', '/nonexistent', '--backend', 'cpu', '--out', out], { stdio: 'ignore' });
  const cliSamples = fs.readFileSync(path.join(out, 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const pageSamples = exported.samples.filter((x) => x.task === 'demo_exam');
  const same = pageSamples.length === 2 && pageSamples.every((x, i) => x.loglikelihoods.every((l, k) => Math.abs(l - cliSamples[i].loglikelihoods[k]) < 1e-3));
  check(same, `the split model's loglikelihoods equal the CLI's on the unsplit file (${pageSamples.map((x) => x.loglikelihoods[0])} vs ${cliSamples.map((x) => x.loglikelihoods[0])})`);
  fs.rmSync(out, { recursive: true, force: true });

  // A part missing; a part of another model.
  await page.setInputFiles('[data-testid=model-file]', [part(1), part(3)]);
  await page.waitForSelector('#error', { timeout: 60000 });
  let err = await page.textContent('#error');
  check(err.includes('part 2 of 3') && err.includes('llama-00002-of-00003.gguf'), `a missing part is named (${err})`);
  await page.setInputFiles('[data-testid=model-file]', [part(1), path.join(splitDir, 'other-model-00002-of-00003.gguf'), part(3)]);
  await page.waitForFunction((before) => document.querySelector('#error') && document.querySelector('#error').textContent !== before, err, { timeout: 60000 });
  err = await page.textContent('#error');
  check(/another model/.test(err), `a part of another model is refused (${err})`);

  // A chat template from a stranger that doubles a string forty times (a terabyte): the run
  // stops with the template's message, in bounded time, and the page stays usable.
  const template = "{% set s = 'x' %}" + '{% set s = s ~ s %}'.repeat(40) + '{{ s }}';
  const model = fs.readFileSync(unsplit);
  const key = Buffer.from('tokenizer.chat_template');
  const head = Buffer.alloc(8 + key.length + 4 + 8);
  head.writeBigUInt64LE(BigInt(key.length), 0);
  key.copy(head, 8);
  head.writeUInt32LE(8, 8 + key.length); // a string
  const pad = (32 - ((head.length + template.length) % 32)) % 32; // keep the tensor data aligned
  const text = Buffer.from(template + ' '.repeat(pad));
  head.writeBigUInt64LE(BigInt(text.length), 12 + key.length);
  const counts = Buffer.from(model.subarray(0, 24));
  counts.writeBigUInt64LE(counts.readBigUInt64LE(16) + 1n, 16);
  const hostile = Buffer.concat([counts, head, text, model.subarray(24)]);
  await page.setInputFiles('[data-testid=model-file]', { name: 'hostile-template.gguf', mimeType: 'application/octet-stream', buffer: hostile });
  await page.waitForFunction(() => /hostile-template/.test(document.querySelector('[data-testid=model-card]')?.textContent || '') || /hostile-template/.test(document.querySelector('#status')?.textContent || ''), null, { timeout: 60000 });
  await page.selectOption('#task', 'demo_yesno');
  await page.fill('#limit', '1');
  await page.check('#chat');
  const started = Date.now();
  await page.click('#start');
  await page.waitForFunction(() => /made more than/.test(document.querySelector('#error')?.textContent || ''), null, { timeout: 60000 }).catch(() => {});
  err = (await page.locator('#error').count()) ? await page.textContent('#error') : '(no error shown)';
  check(err.includes('made more than 32 MiB'), `a chat template that doubles a string stops the run with its message in ${Date.now() - started} ms (${err})`);
  check(errors.length === 0, `no page errors (${errors.join('; ')})`);
} finally {
  await browser.close();
  server.close();
}
if (failures.length) {
  console.error(`${failures.length} failed`);
  process.exit(1);
}
