// Clinician review in the page, in headless Chromium: a set built from two CLI runs, rated
// entirely with the keyboard in both modes, a reload half-way that resumes at the same screen,
// the reviewer's export, a second reviewer's file whose agreement with the first equals
// `clinicbench review stats`, a bad file refused by name, blinding (no model or file name in
// the rating view's DOM), a hostile model output rendered as text, and no request beyond the
// page's origin. Run by scripts/test.sh after `trunk build`.
//
//   node tests/browser/review.test.mjs DIST_DIR CLI MODEL_A.gguf MODEL_B.gguf [SCREENSHOT_DIR]
import { launchChromium, serve } from './harness.mjs';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [dist, cli, modelA, modelB, shots] = process.argv.slice(2);
if (!dist || !cli || !modelA || !modelB) {
  console.error('usage: review.test.mjs DIST_DIR CLI MODEL_A.gguf MODEL_B.gguf [SCREENSHOT_DIR]');
  process.exit(2);
}
if (shots) fs.mkdirSync(shots, { recursive: true });
const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`); };

// Two runs of two small models on the demo generation tasks; one output made hostile.
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-review-'));
const runs = [modelA, modelB].map((m, i) => {
  const out = path.join(work, `run${i}`);
  execFileSync(cli, ['eval', '--model', m, '--tasks', 'demo_summary,demo_medications', '--backend', 'cpu', '--out', out], { stdio: ['ignore', 'ignore', 'inherit'] });
  return out;
});
const HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> <a href="javascript:window.__pwned=3">see</a> take 5 mg';
{
  const f = path.join(runs[0], 'samples.jsonl');
  const lines = fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  for (const s of lines) if (s.generation !== undefined && s.generation !== null) s.generation = HOSTILE + ' ' + s.generation;
  fs.writeFileSync(f, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
}
const runFiles = (dir) => ['results.json', 'samples.jsonl'].map((n) => path.join(dir, n));

const { server, origin } = await serve(dist);
const browser = await launchChromium({ webgpu: false });
try {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const requests = [];
  const errors = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${origin}/`);
  await page.waitForSelector('#review');

  // Build: the two runs, 2 items a task.
  await page.setInputFiles('#review-add-run', runFiles(runs[0]));
  await page.waitForFunction(() => document.querySelectorAll('#review-runs li').length === 1);
  await page.setInputFiles('#review-add-run', runFiles(runs[1]));
  await page.waitForFunction(() => document.querySelectorAll('#review-runs li').length === 2);
  await page.fill('#review-per-task', '2');
  await page.click('#review-build-set');
  await page.waitForSelector('#review-built');
  const save = async (selector, name) => {
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
    const file = path.join(work, name);
    await dl.saveAs(file);
    return file;
  };
  const setFile = await save('#review-download-set', 'set.json');
  const keyFile = await save('#review-download-key', 'key.json');
  const set = JSON.parse(fs.readFileSync(setFile, 'utf8'));
  const key = JSON.parse(fs.readFileSync(keyFile, 'utf8'));
  check(set.items.length === 4 && set.items.every((i) => i.outputs.length === 2 && i.pair), `the page builds a set of 2 items a task with both runs' outputs (${set.items.length} items)`);
  // The CLI builds the same set from the same runs.
  const cliSet = path.join(work, 'cli-set.json');
  execFileSync(cli, ['review', 'build', '--runs', runs[0], runs[1], '--per-task', '2', '--out', cliSet, '--key', path.join(work, 'cli-key.json')], { stdio: 'ignore' });
  const cliItems = JSON.parse(fs.readFileSync(cliSet, 'utf8')).items.map((i) => `${i.task}/${i.doc_id}`);
  check(JSON.stringify(cliItems) === JSON.stringify(set.items.map((i) => `${i.task}/${i.doc_id}`)), 'the page draws the same documents as `clinicbench review build`');

  // Names a blinded view must not hold: the runs' labels, models, files.
  const secrets = new Set(['results.json', 'samples.jsonl', path.basename(modelA), path.basename(modelB), 'run0', 'run1']);
  for (const r of key.runs) {
    secrets.add(r.label);
    if (r.provenance?.model?.name) secrets.add(r.provenance.model.name);
    if (r.provenance?.model?.file) secrets.add(r.provenance.model.file);
    if (r.provenance?.model?.sha256) secrets.add(r.provenance.model.sha256);
  }
  const leaks = [];
  const blindCheck = async () => {
    const html = await page.$eval('#rating-view', (e) => e.outerHTML);
    for (const s of secrets) if (s && html.includes(s)) leaks.push(s);
  };

  // Rate, keyboard only, from the pseudonym on.
  await page.fill('#review-pseudonym', 'dr-a');
  await page.press('#review-pseudonym', 'Tab');
  await page.keyboard.press('Enter'); // the focused "Start rating" button
  await page.waitForSelector('#rating-view');
  await page.waitForFunction(() => document.activeElement?.id === 'rating-view');
  check(await page.$('#review-build') === null, 'the build panel (which names the runs) is gone while rating');
  const position = () => page.$eval('[data-testid=review-item]', (e) => [Number(e.dataset.position), e.dataset.item]);
  const total = 8; // 4 items, 2 outputs each
  const rateScreen = async (n, pairwise) => {
    await blindCheck();
    if (pairwise) await page.keyboard.press(String((n % 3) + 1));
    for (let d = 0; d < (pairwise ? 8 : 4); d++) await page.keyboard.press(String(((n + d) % 4) + 1));
    const values = await page.$$eval('[data-testid=review-row]', (rows) => rows.map((r) => r.dataset.value));
    if (shots && n === 3) await page.locator('#rating-view').screenshot({ path: path.join(shots, pairwise ? 'review-pairwise.png' : 'review-absolute.png') });
    await page.keyboard.press('Enter');
    return values;
  };
  let allGiven = true;
  for (let n = 0; n < 4; n++) {
    const before = await position();
    const values = await rateScreen(n, false);
    allGiven &&= values.every((v, d) => v === String(((n + d) % 4) + 1));
    await page.waitForFunction((p) => Number(document.querySelector('[data-testid=review-item]').dataset.position) === p + 1, before[0]);
  }
  check(allGiven, 'digits rate the focused dimension and move to the next');
  const beforeReload = await position();
  await page.waitForSelector('#rating-view[data-saved=true]');
  await page.reload();
  await page.waitForSelector('#rating-view');
  await page.waitForFunction(() => document.activeElement?.id === 'rating-view');
  const afterReload = await position();
  check(afterReload[0] === beforeReload[0] && afterReload[1] === beforeReload[1], `a reload resumes at the same screen (${beforeReload} -> ${afterReload})`);
  for (let n = 4; n < total; n++) await rateScreen(n, false);
  check(await page.$eval('[data-testid=review-item]', (e, t) => e.textContent.includes(`${t} of ${t} complete`), total), 'every screen of absolute mode is complete');
  // Backspace goes back one screen.
  const last = await position();
  await page.keyboard.press('Backspace');
  check((await position())[0] === last[0] - 1, 'Backspace goes back a screen');

  // Pairwise: M switches mode; each item's two outputs side by side.
  await page.keyboard.press('m');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=review-output]').length === 2);
  for (let n = 0; n < 4; n++) await rateScreen(n, true);
  await page.keyboard.press('Backspace');

  // Hostile output: shown as text, nothing ran.
  const shownText = await page.$eval('#rating-view', (e) => e.textContent);
  const markup = await page.$eval('#rating-view', (e) => e.querySelectorAll('script, img, a[href^="javascript"]').length);
  const pwned = await page.evaluate(() => window.__pwned);
  check(shownText.includes('<script>window.__pwned=1</script>') && markup === 0 && pwned === undefined, 'a model output holding <script>, <img onerror> and javascript: renders as text');
  check(leaks.length === 0, `the rating view's DOM names no run, model or file (${[...new Set(leaks)].join(', ')})`);

  // The reviewer's export.
  await page.waitForSelector('#rating-view[data-saved=true]');
  const reviewA = await save('#review-export-json', 'dr-a.json');
  const csvA = await save('#review-export-csv', 'dr-a.csv');
  const a = JSON.parse(fs.readFileSync(reviewA, 'utf8'));
  check(a.rater === 'dr-a' && a.ratings.length === total * 4 && a.preferences.length === 4 && a.ratings.every((r) => r.seconds >= 0),
    `the export holds every rating and preference with its time (${a.ratings.length} ratings, ${a.preferences.length} preferences)`);
  check(fs.readFileSync(csvA, 'utf8').trim().split('\n').length === total * 4 + 1, 'the CSV export is the long form, a line a rating');

  // A second reviewer's file, and the key: the page's agreement equals the CLI's.
  const b = { ...a, rater: 'dr-b', started: '2026-12-04T09:00:00Z', updated: '2026-12-04T09:30:00Z',
    ratings: a.ratings.map((r, i) => ({ ...r, value: i % 3 === 0 ? r.value : ((r.value + i) % 4) + 1, comment: '', tags: [] })),
    preferences: a.preferences.map((p, i) => ({ ...p, choice: ['left', 'tie', 'right'][i % 3] })) };
  const reviewB = path.join(work, 'dr-b.json');
  fs.writeFileSync(reviewB, JSON.stringify(b));
  await page.setInputFiles('#review-import', [reviewB, keyFile]);
  await page.waitForFunction(() => /dr-b/.test(document.querySelector('#review-raters')?.textContent || ''));
  const cliStats = JSON.parse(execFileSync(cli, ['review', 'stats', '--set', setFile, '--key', keyFile, '--json', reviewA, reviewB], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  let equal = true;
  const detail = [];
  for (const [dim, d] of Object.entries(cliStats.dimensions)) {
    for (const stat of ['alpha', 'kappa']) {
      const shown = await page.getAttribute(`[data-testid=${stat}-${dim}]`, 'data-value');
      const pageValue = shown === 'null' ? null : Number(shown);
      const same = (pageValue === null && d[stat] === null) || (pageValue !== null && d[stat] !== null && Math.abs(pageValue - d[stat]) < 1e-12);
      equal &&= same;
      detail.push(`${dim} ${stat} ${pageValue}/${d[stat]}`);
    }
  }
  check(equal && Object.keys(cliStats.dimensions).length === 4, `kappa and alpha in the page equal \`clinicbench review stats\` (${detail.slice(0, 2).join('; ')} ...)`);
  const runNames = await page.$eval('#review-runs-table', (e) => e.textContent);
  check(key.runs.every((r) => runNames.includes(r.label)), 'with the key, the results name the runs');
  const queue = await page.$$('[data-testid=disagreement]');
  check(queue.length === cliStats.disagreements.length && queue.length > 0, `the disagreement queue lists outputs 2 points apart (${queue.length}, CLI ${cliStats.disagreements.length})`);
  await queue[0].$eval('select', (s) => { s.value = '3'; s.dispatchEvent(new Event('change', { bubbles: true })); });
  await (await queue[0].$('button')).click();
  await page.waitForFunction(() => /adjudicated: 3/.test(document.querySelector('[data-testid=disagreement]')?.textContent || ''));
  const adjFile = await save('#review-export-adjudications', 'adjudications.json');
  const adj = JSON.parse(fs.readFileSync(adjFile, 'utf8'));
  check(adj.adjudications.length === 1 && adj.adjudications[0].value === 3 && queue.length === (await page.$$('[data-testid=disagreement]')).length,
    'an adjudicated rating is recorded beside the originals (they stay in the queue)');
  if (shots) await page.locator('#review-results').screenshot({ path: path.join(shots, 'review-results.png') });

  // The loaded model as one more rater: the same ratings as `clinicbench review judge`.
  await page.setInputFiles('[data-testid=model-file]', modelA);
  await page.waitForSelector('[data-testid=model-card]', { timeout: 60000 });
  await page.click('#review-judge');
  await page.waitForFunction(() => /judge:/.test(document.querySelector('#review-raters')?.textContent || ''), null, { timeout: 120000 });
  const judgeFile = await save('#review-export-judge', 'judge.json');
  const judged = JSON.parse(fs.readFileSync(judgeFile, 'utf8'));
  const cliJudge = path.join(work, 'cli-judge.json');
  execFileSync(cli, ['review', 'judge', '--model', modelA, '--backend', 'cpu', setFile, '--out', cliJudge], { stdio: 'ignore' });
  const byKey = (r) => Object.fromEntries(r.ratings.map((x) => [`${x.item}/${x.output}/${x.dimension}`, x.value]));
  const [pj, cj] = [byKey(judged), byKey(JSON.parse(fs.readFileSync(cliJudge, 'utf8')))];
  check(judged.ratings.length === 32 && Object.keys(cj).length === 32 && Object.entries(cj).every(([k, v]) => pj[k] === v),
    `the page's judge rates every output as \`clinicbench review judge\` does (${judged.ratings.length} ratings)`);
  check(/judge:/.test(await page.textContent('#review-agreement')) || /judge:/.test(await page.textContent('#review-raters')), 'the judge enters the results as one more rater');

  // Bad files: named, and nothing already imported is lost.
  const bad = path.join(work, 'bad-value.json');
  fs.writeFileSync(bad, JSON.stringify({ ...b, rater: 'dr-c', ratings: [{ ...b.ratings[0], value: 5 }] }));
  const cut = path.join(work, 'cut.json');
  fs.writeFileSync(cut, JSON.stringify({ ...b, rater: 'dr-d' }).slice(0, 200));
  const twice = path.join(work, 'twice.json');
  fs.writeFileSync(twice, JSON.stringify({ ...b, started: '2026-12-05T09:00:00Z' }));
  const otherInstrument = path.join(work, 'other-instrument.json');
  fs.writeFileSync(otherInstrument, JSON.stringify({ ...b, rater: 'dr-e', instrument_hash: '0'.repeat(64) }));
  await page.setInputFiles('#review-import', [bad, cut, twice, otherInstrument]);
  await page.waitForSelector('#error');
  const message = await page.textContent('#error');
  check(/bad-value\.json.*outside the scale 1-4/.test(message) && /cut\.json.*cut short/.test(message) && /twice\.json.*already/.test(message) && /other-instrument\.json.*instrument/.test(message),
    `bad review files are refused by name (${message.slice(0, 300)})`);
  check(/dr-a.*dr-b|dr-b.*dr-a/.test(await page.textContent('#review-raters')), 'the reviews already imported are kept');

  const foreign = requests.filter((u) => !u.startsWith(origin) && !u.startsWith('blob:') && !u.startsWith('data:'));
  check(foreign.length === 0, `no request leaves the origin (${foreign.slice(0, 3).join(', ')})`);
  check(errors.length === 0, `no page errors (${errors.slice(0, 2).join(' | ')})`);
} finally {
  await browser.close();
  server.close();
}


if (failures.length) console.error(`${failures.length} review checks failed`);
process.exit(failures.length ? 1 : 0);
