// What the browser tests and benchmarks share: a static server for a built page, and Debian's
// Chromium started for these machines.
import { chromium } from 'playwright-core';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.gguf': 'application/octet-stream' };

// Serves the files of a built page, and model files by path (`extra`: URL path -> file).
// `isolate`: send the cross-origin isolation headers scripts/run.sh sends (COOP same-origin, COEP
// credentialless), so the page is isolated from its first load and runs the threaded engine.
// Returns the server, its origin and the paths served.
export async function serve(dist, extra = {}, { isolate = false } = {}) {
  const served = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    served.push(url.pathname);
    const file = extra[url.pathname] || path.join(dist, url.pathname === '/' ? 'index.html' : path.normalize(url.pathname));
    if (!file.startsWith(dist) && !Object.values(extra).includes(file)) { res.writeHead(403).end(); return; }
    fs.stat(file, (err, st) => {
      if (err || !st.isFile()) { res.writeHead(404).end(); return; }
      const headers = { 'content-type': types[path.extname(file)] || 'application/octet-stream', 'content-length': st.size };
      if (isolate) Object.assign(headers, { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'credentialless' });
      res.writeHead(200, headers);
      fs.createReadStream(file).pipe(res);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, origin: `http://127.0.0.1:${server.address().port}`, served };
}

// Headless Chromium without its background network traffic. `webgpu`: WebGPU on
// (`--enable-unsafe-webgpu`: SwiftShader where there is no GPU) or off; `hardwareGpu`: leave
// the GPU process on, for speed figures on a machine with a real GPU.
export function launchChromium({ webgpu = true, hardwareGpu = false } = {}) {
  const args = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'];
  if (!hardwareGpu) args.push('--disable-gpu');
  args.push(webgpu ? '--enable-unsafe-webgpu' : '--disable-features=WebGPU');
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args });
}
