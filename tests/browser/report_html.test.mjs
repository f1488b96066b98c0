// The HTML report of `clinicbench report` opened in headless Chromium as a file, as a person
// opens it from disk: the tables are there, nothing is requested, nothing fails in the console,
// it reads without scripts and prints. Writes a screenshot and a PDF of it.
//   node tests/browser/report_html.test.mjs CLINICBENCH_BINARY FIXTURES_DIR [SCREENSHOT_DIR]
import { launchChromium } from './harness.mjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

const [cli, fixtures, shots] = process.argv.slice(2);
let failed = 0;
const check = (ok, what) => { console.log(`${ok ? 'ok' : 'FAIL'} - ${what}`); if (!ok) failed++; };

const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cb-report-')), 'report.html');
const runs = ['run_a.json', 'run_b.json', 'run_c.json'].map((f) => path.join(fixtures, f));
execFileSync(cli, ['report', ...runs, '--baseline', runs[0], '--out', out], { stdio: 'inherit' });

const browser = await launchChromium({ webgpu: false });
const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1400, height: 900 } });
const page = await context.newPage();
const requests = [];
const errors = [];
page.on('request', (r) => requests.push(r.url()));
page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
page.on('pageerror', (e) => errors.push(String(e)));
const url = 'file://' + out;
await page.goto(url);
const headers = await page.$$eval('thead th', (ths) => ths.map((t) => t.textContent));
check(headers.some((h) => h.startsWith('medqa_4options')) && headers.some((h) => h.startsWith('iu_xray_summarization')), `the tables are headed by the task names (${headers.slice(0, 4).join(' | ')})`);
const sections = await page.$$eval('h2', (hs) => hs.map((h) => h.textContent));
check(['Reasoning', 'Generation', 'Understanding'].every((s) => sections.includes(s)), `grouped by scenario (${sections.join(', ')})`);
const rows = await page.$$eval('tbody tr', (trs) => trs.length);
check(rows === 9, `three runs in each of three tables (${rows} rows)`);
const bars = await page.$$eval('svg.bar', (s) => s.length);
check(bars > 0, `bars drawn as inline SVG (${bars})`);
const text = await page.textContent('body');
check(/Holm p = 2\.3e-5/.test(text) && text.includes('not paired: the runs read different dataset files'), 'paired tests and unpaired cells are said in the cells');
check(requests.filter((u) => u !== url).length === 0, `no request beyond the file itself (${requests.filter((u) => u !== url).join(', ') || 'none'})`);
check(errors.length === 0, `no console error (${errors.join(' | ') || 'none'})`);
if (shots) {
  fs.mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, '6-report.png'), fullPage: true });
  await page.pdf({ path: path.join(shots, '6-report.pdf'), format: 'A4', landscape: true });
}
await browser.close();
console.log(`${failed === 0 ? 'all passed' : failed + ' failed'}`);
process.exit(failed === 0 ? 0 : 1);
