// ClinicBench Web's service worker: our own code, from the page's own origin.
//
// - Offline: it keeps the app shell (the page, its scripts, WebAssembly and styles) in a cache
//   named by the build's version, so after one visit the page loads and runs with the network
//   off. Models are not kept here: the page keeps them in the browser's private file system.
// - Cross-origin isolation on any static host: it serves the shell with
//   Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy, which a static server does not
//   send, so the page can have SharedArrayBuffer.
// - A newer build installs beside the running one and waits: the page offers it, and it takes
//   over only when the user says so (never under a running evaluation).
//
// scripts/page_post_build.py writes the version and the shell's files below at build time.
const VERSION = '__CLINICBENCH_VERSION__';
const SHELL = __CLINICBENCH_SHELL__;
const CACHE = `clinicbench-shell-${VERSION}`;
// `credentialless` where the page found the browser has it, else `require-corp` (the worker's
// fetch of a model URL is a CORS request, which both allow).
const COEP = new URL(self.location.href).searchParams.get('coep') === 'credentialless' ? 'credentialless' : 'require-corp';

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('clinicbench-shell-') && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  if (event.data === 'version') event.source?.postMessage({ version: VERSION });
  // The user chose the newer build.
  if (event.data === 'activate') self.skipWaiting();
});

// The shell's responses with the isolation headers added.
function isolated(response) {
  const headers = new Headers(response.headers);
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Embedder-Policy', COEP);
  headers.set('Cross-Origin-Resource-Policy', 'same-origin');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

const shellPaths = new Set(SHELL.map((p) => new URL(p, self.location.href).pathname));

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  // Anything else (a model, another origin) goes to the network untouched.
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  const navigation = request.mode === 'navigate';
  if (!navigation && !shellPaths.has(url.pathname)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    // A navigation (with `?backend=…` or not) is the page itself.
    const cached = await cache.match(navigation ? new URL('./', self.location.href).href : request, { ignoreSearch: navigation });
    if (cached) return isolated(cached);
    return isolated(await fetch(request));
  })());
});
