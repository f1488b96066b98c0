// Times the page's batched product in V8 (Node, the JIT Chromium runs): each build given, every
// format, alternating builds, GFLOP/s on one core; and the one-token product (decode), in ns a
// block of 32 weights. A benchmark: it asserts nothing.
//
//   node --experimental-wasm-relaxed-simd scripts/wasm-matmul/run.mjs NAME=FILE.wasm ...
import fs from 'node:fs';

const builds = process.argv.slice(2).map((a) => a.split('='));
if (!builds.length) {
  console.error('usage: run.mjs NAME=FILE.wasm ...');
  process.exit(2);
}
// Gemma 3 270M's shapes: 640-wide inputs (Q8_0, Q5_0, F32 by 32-blocks; the K-quants need 256s).
const formats = [['Q8_0', 0, 640], ['Q4_K', 1, 768], ['Q6_K', 2, 768], ['Q5_0', 3, 640], ['F32', 4, 640]];
const [rows, tokens, repeats] = [576, 128, 20];

function instantiate(file) {
  const module = new WebAssembly.Module(fs.readFileSync(file));
  // wasm-bindgen's imports (the crate's web dependencies) are never called here.
  const imports = {};
  for (const i of WebAssembly.Module.imports(module)) {
    imports[i.module] ??= {};
    imports[i.module][i.name] = i.kind === 'table' ? new WebAssembly.Table({ initial: 1024, element: 'externref' }) : () => 0;
  }
  return new WebAssembly.Instance(module, imports).exports;
}

const seconds = (f) => {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < repeats; i++) f();
  return Number(process.hrtime.bigint() - t0) / 1e9 / repeats;
};
for (const round of [1, 2]) {
  for (const [format, id, cols] of formats) {
    for (const [name, file] of builds) {
      const e = instantiate(file);
      e.setup(id, rows, cols, tokens);
      e.matmul();
      const mm = seconds(e.matmul);
      const dq = seconds(e.dequantize);
      for (let i = 0; i < 200; i++) e.matvec();
      const mv = seconds(e.matvec);
      const gflops = (2 * rows * cols * tokens) / mm / 1e9;
      console.log(JSON.stringify({ round, format, build: name, rows, cols, tokens, matmul_ms: +(mm * 1e3).toFixed(3), gflop_s: +gflops.toFixed(1), dequantize_share: +(dq / mm).toFixed(3), one_token_ns_per_32: +(mv * 1e9 / (rows * cols / 32)).toFixed(1) }));
    }
  }
}
