#!/usr/bin/env python3
"""trunk post_build hook: build the threaded engine beside trunk's plain one
(scripts/build-worker-threads.sh), move trunk's inline <script> blocks out of index.html into
files, then write the service worker's version and app shell into sw.js.

The page's Content-Security-Policy allows scripts from its own origin only ('self'), which
forbids inline scripts; trunk 0.21 writes the wasm loader inline (trunk-rs/trunk#288). Each
inline script becomes `inline-<sha256 prefix>.js` beside index.html, referenced by src, with
its type kept. Fails if anything inline is left.
"""
import hashlib
import json
import os
import re
import subprocess
import sys

staging = os.environ.get("TRUNK_STAGING_DIR") or (sys.argv[1] if len(sys.argv) > 1 else "dist")

# The threaded engine (WebAssembly threads) beside trunk's plain one, before the shell is listed.
subprocess.run(["bash", os.path.join(os.path.dirname(os.path.abspath(__file__)), "build-worker-threads.sh"), staging], check=True)
index = os.path.join(staging, "index.html")
html = open(index, encoding="utf-8").read()

pattern = re.compile(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.S)


def move(m):
    attrs, body = m.group("attrs"), m.group("body")
    if "src=" in attrs or not body.strip():
        return m.group(0)
    name = "inline-%s.js" % hashlib.sha256(body.encode()).hexdigest()[:16]
    with open(os.path.join(staging, name), "w", encoding="utf-8") as f:
        f.write(body)
    attrs = re.sub(r'\s+nonce="[^"]*"', "", attrs)
    return '<script%s src="./%s"></script>' % (attrs, name)


html = pattern.sub(move, html)
html = re.sub(r'\s+nonce="[^"]*"', "", html)
left = [m for m in pattern.finditer(html) if "src=" not in m.group("attrs") and m.group("body").strip()]
if left:
    sys.exit("inline scripts remain in index.html")
open(index, "w", encoding="utf-8").write(html)

# The service worker keeps the app shell: every file of the build (the page itself as "./"), under
# a version that is the SHA-256 of them all, so a new build is a new service worker.
sw = os.path.join(staging, "sw.js")
text = open(sw, encoding="utf-8").read()
if "__CLINICBENCH_VERSION__" not in text or "__CLINICBENCH_SHELL__" not in text:
    sys.exit("sw.js has no placeholders to fill")
shell = []
digest = hashlib.sha256()
for root, _, files in os.walk(staging):
    for name in files:
        rel = os.path.relpath(os.path.join(root, name), staging).replace(os.sep, "/")
        if rel != "sw.js":
            shell.append(rel)
for rel in sorted(shell):
    digest.update(rel.encode() + b"\0")
    digest.update(open(os.path.join(staging, rel), "rb").read())
urls = ["./"] + ["./" + rel for rel in sorted(shell) if rel != "index.html"]
text = text.replace("__CLINICBENCH_VERSION__", digest.hexdigest()[:16])
text = text.replace("__CLINICBENCH_SHELL__", json.dumps(urls))
open(sw, "w", encoding="utf-8").write(text)
