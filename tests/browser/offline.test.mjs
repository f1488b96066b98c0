// The page's service worker in headless Chromium, on a static server that sends no headers:
// after one visit the page is cross-origin isolated (SharedArrayBuffer) and loads and runs a
// model with the network off; a newer build is offered and takes over only when the user says so;
// on plain http:// (not localhost) the page says what is missing. No request leaves the origin.
//
//   node tests/browser/offline.test.mjs DIST_DIR TINY.gguf
import { chromium } from 'playwright-core';
import { launchChromium } from './harness.mjs';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const [dist, tiny] = process.argv.slice(2);
if (!dist || !tiny) {
  console.error('usage: offline.test.mjs DIST_DIR TINY.gguf');
  process.exit(2);
}
const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`); };

// A static server like any other (no isolation headers), which the test can take down, and whose
// sw.js it can replace with a newer build's.
const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css' };
let down = false;
let swText = fs.readFileSync(path.join(dist, 'sw.js'), 'utf8');
const served = [];
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  served.push(url.pathname);
  if (down) { req.socket.destroy(); return; }
  if (url.pathname === '/sw.js') { res.writeHead(200, { 'content-type': 'text/javascript' }).end(swText); return; }
  const file = path.join(dist, url.pathname === '/' ? 'index.html' : path.normalize(url.pathname));
  if (!file.startsWith(dist) || !fs.existsSync(file) || !fs.statSync(file).isFile()) { res.writeHead(404).end(); return; }
  res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream' });
  fs.createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
const origin = `http://127.0.0.1:${port}`;

const browser = await launchChromium({ webgpu: false });
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const requests = [];
  const errors = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => errors.push(String(e)));
  const ready = () => page.waitForFunction(() => document.querySelector('#status')?.textContent.startsWith('Ready'), null, { timeout: 60000 });

  await page.goto(`${origin}/`);
  await ready();
  await page.waitForSelector('#offline[data-ready=true]', { timeout: 30000 });
  check(true, 'the service worker keeps the page after one visit');

  await page.reload();
  await ready();
  const isolated = await page.evaluate(() => window.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function');
  check(isolated && await page.getAttribute('#offline', 'data-isolated') === 'true',
    `from the second load the page is cross-origin isolated on a server that sends no headers (${await page.textContent('#offline')})`);

  // The network off: the page loads, its worker starts, a model picked from disk runs.
  down = true;
  await context.setOffline(true);
  await page.reload();
  await ready();
  await page.setInputFiles('[data-testid=model-file]', tiny);
  await page.waitForSelector('[data-testid=model-card]', { timeout: 60000 });
  await page.selectOption('#task', 'demo_exam');
  await page.fill('#limit', '2');
  await page.click('#start');
  await page.waitForFunction(() => /^Finished demo_exam/.test(document.querySelector('#status')?.textContent || '') || document.querySelector('#error'), null, { timeout: 120000 });
  check(/^Finished demo_exam/.test(await page.textContent('#status')), 'with the network off the page loads and runs a model picked from disk');
  // Isolated by the service worker, the offline page runs the threaded engine from its cache.
  const threads = Number(await page.getAttribute('[data-testid=threads]', 'data-threads'));
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  check(threads === Math.min(cores, 8), `offline, the page runs the threaded engine on every core (${await page.textContent('[data-testid=threads]')})`);
  await context.setOffline(false);
  down = false;

  // A newer build: installed beside the running page, offered, taken only when asked.
  swText = swText.replace(/const VERSION = '[^']*';/, "const VERSION = 'newer-build-for-the-test';");
  await page.evaluate(() => { window.__stillHere = true; });
  await page.evaluate(() => navigator.serviceWorker.getRegistration().then((r) => r.update()));
  await page.waitForSelector('#newer-build', { timeout: 30000 });
  check(await page.evaluate(() => window.__stillHere === true), 'a newer build is offered, not swapped in under the page');
  await Promise.all([page.waitForEvent('load'), page.click('#use-newer-build')]);
  await ready();
  const version = await page.evaluate(() => new Promise((resolve) => {
    navigator.serviceWorker.addEventListener('message', (e) => resolve(e.data.version));
    navigator.serviceWorker.controller.postMessage('version');
  }));
  check(version === 'newer-build-for-the-test' && await page.evaluate(() => window.__stillHere === undefined) && !(await page.$('#newer-build')),
    `chosen, the newer build takes over after a reload (${version})`);

  const foreign = requests.filter((u) => !u.startsWith(origin) && !u.startsWith('blob:') && !u.startsWith('data:'));
  check(foreign.length === 0, `no request leaves the origin (${foreign.slice(0, 3).join(', ')})`);
  check(errors.length === 0, `no page errors (${errors.slice(0, 2).join(' | ')})`);
  await context.close();
} finally {
  await browser.close();
}

// Plain http:// on a name other than localhost: no service worker, and the page says why.
const plain = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-features=WebGPU', `--host-resolver-rules=MAP clinic.intranet 127.0.0.1`] });
try {
  const page = await plain.newPage();
  await page.goto(`http://clinic.intranet:${port}/`);
  await page.waitForFunction(() => document.querySelector('#status')?.textContent.startsWith('Ready'), null, { timeout: 60000 });
  const says = await page.textContent('#offline');
  check(/HTTPS or localhost/.test(says) && await page.getAttribute('#offline', 'data-ready') === 'false', `on plain http:// the page says what is missing (${says})`);
} finally {
  await plain.close();
  server.close();
}

if (failures.length) console.error(`${failures.length} offline checks failed`);
process.exit(failures.length ? 1 : 0);
