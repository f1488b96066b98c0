// The benchmark build's peer: wllama (llama.cpp compiled to WebAssembly, npm @wllama/wllama, a
// development-only dependency) measured on the same model file, in the same browser, on the
// same prompt as our engine's Speed section. Only scripts/build-bench-page.sh puts this file
// and wllama beside the page; the page looks for `window.clinicbenchPeer` and, when it is
// there, runs it after its own measurement and shows the ratio.
import { Wllama } from './wllama/index.js';

// The model as the page last loaded it: a File, a URL the worker kept in the browser's
// private file system (OPFS), or a kept file by name.
async function modelBlob(source) {
  if (source.file) return source.file;
  const root = await navigator.storage.getDirectory();
  for (const name of source.opfs || []) {
    try {
      return await (await root.getFileHandle(name)).getFile();
    } catch (_) { /* not kept under this name */ }
  }
  if (source.url) return await (await fetch(source.url)).blob();
  throw new Error('the model is not available to the peer');
}

window.clinicbenchPeer = {
  name: 'wllama 3.13.0',
  // Prefill and decode tokens per second of wllama on `source`: the prompt `text` (the tokens
  // our engine prefilled, as text), then `genTokens` greedy tokens past any end of generation.
  // `gpu`: offload every layer to WebGPU as our engine does, else llama.cpp's CPU backend;
  // `threads`: the CPU threads our engine had (wllama's multi-thread build where above one).
  async run(source, text, promptTokens, genTokens, gpu, threads = 1) {
    const wllama = new Wllama(
      { default: new URL('./wllama/wllama.wasm', import.meta.url).href },
      { suppressNativeLog: true, allowOffline: true },
    );
    try {
      const blob = await modelBlob(source);
      await wllama.loadModel([blob], {
        n_ctx: promptTokens + genTokens + 64,
        n_threads: threads,
        n_gpu_layers: gpu ? 999 : 0,
        warmup: true,
      });
      const run = () => wllama.createCompletion({
        prompt: text, max_tokens: genTokens, temperature: 0, ignore_eos: true, cache_prompt: false, seed: 1,
      });
      await run(); // the first request sets up llama.cpp's buffers; the second is measured
      const r = await run();
      const t = r.timings;
      return {
        peer: `wllama 3.13.0 (llama.cpp, ${wllama.isMultithread() ? `${wllama.getNumThreads()} threads` : '1 thread'}${gpu ? ', WebGPU' : ', CPU'})`,
        prompt_tokens: t.prompt_n,
        gen_tokens: t.predicted_n,
        prefill_tok_s: t.prompt_per_second,
        decode_tok_s: t.predicted_per_second,
      };
    } finally {
      await wllama.exit();
    }
  },
};
