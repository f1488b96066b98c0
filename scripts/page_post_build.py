#!/usr/bin/env python3
"""trunk post_build hook: move trunk's inline <script> blocks out of index.html into files.

The page's Content-Security-Policy allows scripts from its own origin only ('self'), which
forbids inline scripts; trunk 0.21 writes the wasm loader inline (trunk-rs/trunk#288). Each
inline script becomes `inline-<sha256 prefix>.js` beside index.html, referenced by src, with
its type kept. Fails if anything inline is left.
"""
import hashlib
import os
import re
import sys

staging = os.environ.get("TRUNK_STAGING_DIR") or (sys.argv[1] if len(sys.argv) > 1 else "dist")
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
