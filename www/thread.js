// One CPU thread of the page's threaded engine (see src/bin/clinicbench-web/threads.rs): the
// engine's own program, instantiated over the engine's module and shared memory, runs one of its
// rayon threads for the life of the page. It never returns; if it fails, the page hears it.
importScripts("./clinicbench-worker-threads.js");
self.onmessage = (event) => {
  self.onmessage = null;
  const { module, memory } = event.data;
  wasm_bindgen.initSync({ module, memory });
  wasm_bindgen.clinicbench_thread_run();
};
