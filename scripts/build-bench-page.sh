#!/usr/bin/env bash
# The benchmark build: the page (scripts/build-page.sh) copied into dist-bench/ with wllama
# (npm @wllama/wllama, pinned in tests/browser/, a development-only dependency) and
# www/bench/peer.js beside it, so the Speed section also measures wllama on the same file in the
# same browser and shows the ratio. wllama starts its workers from blob: URLs, so this build's
# Content-Security-Policy adds `blob:` to worker-src; the normal build never ships either.
# Prints the dist-bench folder.
set -euo pipefail
cd "$(dirname "$0")/.."
model="$1"
bash scripts/setup-browser.sh >&2
bash scripts/build-page.sh "$model" >/dev/null
rm -rf dist-bench
cp -r dist dist-bench
wllama=tests/browser/node_modules/@wllama/wllama
mkdir -p dist-bench/bench/wllama
cp www/bench/peer.js dist-bench/bench/
cp "$wllama/esm/index.js" dist-bench/bench/wllama/index.js
cp "$wllama/esm/wasm/wllama.wasm" dist-bench/bench/wllama/wllama.wasm
cp "$wllama/LICENCE" dist-bench/bench/wllama/LICENCE
python3 - dist-bench/index.html <<'PY'
import sys
path = sys.argv[1]
html = open(path, encoding="utf-8").read()
if "worker-src 'self';" not in html or "</head>" not in html:
    sys.exit("build-bench-page: index.html does not have the expected policy and head")
html = html.replace("worker-src 'self';", "worker-src 'self' blob:;", 1)
html = html.replace("</head>", '<script type="module" src="./bench/peer.js"></script></head>', 1)
open(path, "w", encoding="utf-8").write(html)
PY
echo "$PWD/dist-bench"
