//! The threaded build's CPU thread pool: rayon's threads, each run by a thread worker the page
//! starts (`www/thread.js`) over this engine's WebAssembly module and shared memory. The engine
//! offers module and memory ([`offer`]); the page starts the workers, each calls
//! [`clinicbench_thread_run`] and waits here; the page then sends `Threads`, and [`build`] hands
//! each waiting worker one of rayon's threads. The kernels then run as natively (`parallel_for`).
//!
//! The page, not the engine, starts the thread workers: a worker's death (out of memory, a trap)
//! is then heard by the page, which stops the engine with a message, where the engine itself,
//! blocked in a step waiting for that thread, could hear nothing.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The name the page gives its thread workers (`WorkerOptions.name`).
const THREAD_WORKER_PREFIX: &str = "clinicbench-thread";

/// rayon's threads not yet taken by a worker.
static WAITING: Mutex<VecDeque<rayon::ThreadBuilder>> = Mutex::new(VecDeque::new());
static ARRIVED: Condvar = Condvar::new();

/// Whether this instance is one of the page's thread workers (not the engine's worker).
pub fn is_thread_worker() -> bool {
    js_sys::global()
        .dyn_into::<web_sys::DedicatedWorkerGlobalScope>()
        .map(|scope| scope.name().starts_with(THREAD_WORKER_PREFIX))
        .unwrap_or(false)
}

/// This build's wasm-bindgen glue, which a thread worker loads to run this module
/// (`scripts/build-worker-threads.sh` names the two threaded builds).
const GLUE: &str = if cfg!(target_feature = "relaxed-simd") { "./clinicbench-worker-threads-relaxed.js" } else { "./clinicbench-worker-threads.js" };

/// `{ clinicbenchThreads: { module, memory, glue } }`: what the page passes to each thread worker.
pub fn offer() -> js_sys::Object {
    let inner = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&inner, &"glue".into(), &GLUE.into());
    let _ = js_sys::Reflect::set(&inner, &"module".into(), &wasm_bindgen::module());
    let _ = js_sys::Reflect::set(&inner, &"memory".into(), &wasm_bindgen::memory());
    let outer = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&outer, &"clinicbenchThreads".into(), &inner);
    outer
}

/// Makes rayon's global pool of `threads` threads; returns once every thread runs (rayon waits
/// for them), which needs the page's workers to be waiting in [`clinicbench_thread_run`].
pub fn build(threads: usize) -> Result<usize, String> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .spawn_handler(|thread| {
            WAITING.lock().unwrap_or_else(|e| e.into_inner()).push_back(thread);
            ARRIVED.notify_one();
            Ok(())
        })
        .build_global()
        .map_err(|e| format!("the engine's threads could not start: {e}"))?;
    Ok(rayon::current_num_threads())
}

/// A thread worker's work: wait for one of rayon's threads and run it (for the page's life).
#[wasm_bindgen]
pub fn clinicbench_thread_run() {
    let thread = {
        let mut waiting = WAITING.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(thread) = waiting.pop_front() {
                break thread;
            }
            waiting = ARRIVED.wait(waiting).unwrap_or_else(|e| e.into_inner());
        }
    };
    thread.run();
}
