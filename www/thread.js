// One CPU thread of the page's threaded engine (see src/bin/clinicbench-web/threads.rs): the
// engine's own program, instantiated over the engine's module and shared memory, runs one of its
// rayon threads for the life of the page. It never returns; if it fails, the page hears it. The
// engine names its build's glue (one of the two threaded builds); nothing else is loaded.
const GLUES = ["./clinicbench-worker-threads.js", "./clinicbench-worker-threads-relaxed.js"];
self.onmessage = (event) => {
  self.onmessage = null;
  const { module, memory, glue } = event.data;
  if (!GLUES.includes(glue)) throw new Error(`unknown engine build ${glue}`);
  importScripts(glue);
  wasm_bindgen.initSync({ module, memory });
  wasm_bindgen.clinicbench_thread_run();
};
