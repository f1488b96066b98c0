//! How many CPU threads the engine gets in this browser, and the thread workers that give them.
//!
//! The page ships three builds of the engine: the plain one (one thread, SIMD128) and two threaded
//! ones (WebAssembly threads over a shared memory, `scripts/build-worker-threads.sh`): SIMD128,
//! and SIMD128 with relaxed SIMD, whose `f32x4.relaxed_madd` runs as a fused multiply-add where
//! the machine has one (the products' inner step in one instruction instead of two). The threaded
//! builds need `SharedArrayBuffer`, which browsers give only to a cross-origin isolated page (the
//! service worker and `scripts/run.sh` send the headers); there the page runs a threaded build
//! whatever the count, one thread included, so the arithmetic, and with it every result, does
//! not depend on the count. The count is the browser's cores, capped, or `?threads=N`; the
//! relaxed build runs where the browser validates relaxed SIMD, unless `?simd=128` asks for the
//! SIMD128 one.
//!
//! The page starts the thread workers itself (not the engine's worker): the engine, blocked in a
//! step that waits for a thread, could not hear that thread die; the page hears it, stops the
//! engine and says so.

use super::state::Page;
use leptos::prelude::*;
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// More threads than this rarely help a model a browser can hold (the products become bound by
/// memory bandwidth), and each costs a WebAssembly instance and its stack.
const MAX_THREADS: usize = 8;
/// What `?threads=` may ask for.
const MAX_ASKED: usize = 32;

thread_local! {
    /// The thread workers started, to stop them with the engine.
    static THREAD_WORKERS: RefCell<Vec<web_sys::Worker>> = const { RefCell::new(Vec::new()) };
    /// The thread workers were stopped: later errors (a worker cut off while loading) are
    /// echoes of the first, which the page has already said.
    static STOPPED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The engine's CPU threads in this page, for the model card.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CpuThreads {
    /// Threads the page asked the engine for.
    pub planned: usize,
    /// A threaded build runs (false: the plain build, one thread).
    pub threaded: bool,
    /// Threads running, once the engine says so.
    pub running: Option<usize>,
    /// Why the plain build's one thread, where the page runs it; or, in a threaded build, why the
    /// page did not take `?threads=`.
    pub why_one: Option<String>,
    /// The SIMD of the threaded build.
    pub simd: Simd,
}

/// Which of the threaded builds runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Simd {
    /// SIMD128 with relaxed SIMD (fused multiply-add).
    #[default]
    Relaxed,
    /// SIMD128 only, and why.
    Simd128(String),
}

impl CpuThreads {
    /// One line for the model card.
    pub fn summary(&self) -> String {
        let simd = match &self.simd {
            Simd::Relaxed => "relaxed SIMD, fused multiply-add".to_string(),
            Simd::Simd128(why) => format!("SIMD128, as {why}"),
        };
        let count = |n: usize| if n == 1 { "1 thread".to_string() } else { format!("{n} threads") };
        match (self.threaded, self.running, &self.why_one) {
            (true, Some(n), None) => format!("CPU: {} (WebAssembly threads, {simd}; ?threads=N sets the number).", count(n)),
            (true, Some(n), Some(why)) => format!("CPU: {} (WebAssembly threads, {simd}; one a core, as {why}).", count(n)),
            (true, None, _) => format!("CPU: starting {}…", count(self.planned)),
            (false, _, Some(why)) => format!("CPU: one thread, because {why}."),
            (false, _, None) => "CPU: one thread.".to_string(),
        }
    }

    /// The engine's loader script: the build this plan runs.
    pub fn loader(&self) -> &'static str {
        match (self.threaded, &self.simd) {
            (false, _) => "./clinicbench-worker_loader.js",
            (true, Simd::Relaxed) => "./clinicbench-worker-threads-relaxed_loader.js",
            (true, Simd::Simd128(_)) => "./clinicbench-worker-threads_loader.js",
        }
    }

    /// The plain build instead, because `why`.
    pub fn plain(why: String) -> Self {
        CpuThreads { planned: 1, threaded: false, running: None, why_one: Some(why), simd: Simd::Simd128("the one-thread build has SIMD128 only".into()) }
    }
}

fn get(target: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(target, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// `?threads=N`, if given.
fn asked() -> Option<Result<usize, String>> {
    let query = web_sys::window()?.location().search().ok()?;
    let value = query.trim_start_matches('?').split('&').find_map(|kv| kv.strip_prefix("threads="))?.to_string();
    Some(match value.parse::<usize>() {
        Ok(n) if (1..=MAX_ASKED).contains(&n) => Ok(n),
        _ => Err(format!("?threads={value} is not a number of threads from 1 to {MAX_ASKED}")),
    })
}

/// Whether this browser can make a shared WebAssembly memory (threads) here, or why not.
fn shared_memory() -> Result<(), String> {
    let global = js_sys::global();
    if get(&global, "crossOriginIsolated").as_bool() != Some(true) {
        return Err("this page is not cross-origin isolated, so the browser gives it no SharedArrayBuffer (see the line below)".into());
    }
    if !get(&global, "SharedArrayBuffer").is_function() {
        return Err("this browser has no SharedArrayBuffer".into());
    }
    let descriptor = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&descriptor, &"initial".into(), &1.into());
    let _ = js_sys::Reflect::set(&descriptor, &"maximum".into(), &1.into());
    let _ = js_sys::Reflect::set(&descriptor, &"shared".into(), &true.into());
    js_sys::WebAssembly::Memory::new(&descriptor).map(|_| ()).map_err(|_| "this browser has no WebAssembly threads (shared memory)".to_string())
}

/// A module of one function that returns `f32x4.relaxed_madd` of three splatted zeros: valid
/// only where the browser has relaxed SIMD.
const RELAXED_SIMD_PROBE: [u8; 49] = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // types: () -> v128
    0x03, 0x02, 0x01, 0x00, // functions: one of type 0
    0x0a, 0x1c, 0x01, 0x1a, 0x00, // code: one body of 26 bytes, no locals
    0x43, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x13, // f32.const 0, f32x4.splat
    0x43, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x13,
    0x43, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x13,
    0xfd, 0x85, 0x02, // f32x4.relaxed_madd
    0x0b, // end
];

/// Which threaded build: relaxed SIMD where this browser has it, unless `?simd=128`.
fn simd() -> Simd {
    let query = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    if query.trim_start_matches('?').split('&').any(|kv| kv == "simd=128") {
        return Simd::Simd128("?simd=128 asks".into());
    }
    match js_sys::WebAssembly::validate(&js_sys::Uint8Array::from(&RELAXED_SIMD_PROBE[..]).into()) {
        Ok(true) => Simd::Relaxed,
        _ => Simd::Simd128("this browser has no relaxed SIMD".into()),
    }
}

/// How many threads this page runs and in which build, and why one where it runs one.
pub fn plan() -> CpuThreads {
    let cores = web_sys::window().map_or(1, |w| w.navigator().hardware_concurrency() as usize).max(1);
    let (wanted, note) = match asked() {
        Some(Ok(n)) => (n, None),
        Some(Err(why)) => (cores.min(MAX_THREADS), Some(why)),
        None => (cores.min(MAX_THREADS), None),
    };
    match shared_memory() {
        Ok(()) => CpuThreads { planned: wanted, threaded: true, running: None, why_one: note, simd: simd() },
        Err(why) => CpuThreads::plain(why),
    }
}

/// Starts `threads` thread workers over the engine's module and memory (`offer`, from the
/// engine); each waits in the engine for one of its threads. A thread worker that fails stops the
/// engine: `stop_engine` is called with what the browser said.
pub fn start_workers(offer: &JsValue, threads: usize, page: Page, stop_engine: impl Fn() + Clone + 'static) -> Result<(), String> {
    let options = web_sys::WorkerOptions::new();
    for i in 0..threads {
        options.set_name(&format!("clinicbench-thread-{i}"));
        let worker = web_sys::Worker::new_with_options("./thread.js", &options).map_err(|e| format!("cannot start a thread worker: {e:?}"))?;
        let stop = stop_engine.clone();
        let on_error = Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |ev: web_sys::ErrorEvent| {
            if STOPPED.with(|s| s.get()) {
                return;
            }
            stop();
            stop_all();
            page.running.set(false);
            page.fail(format!(
                "An engine thread stopped ({}). Completed samples are kept; reload the page to go on (?threads=1 runs on one thread).",
                ev.message()
            ));
        });
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        // As long as the page: the thread worker lives as long as the engine.
        on_error.forget();
        worker.post_message(offer).map_err(|e| format!("cannot start a thread worker: {e:?}"))?;
        THREAD_WORKERS.with(|w| w.borrow_mut().push(worker));
    }
    Ok(())
}

/// Stops every thread worker (the engine is gone or stopped).
pub fn stop_all() {
    STOPPED.with(|s| s.set(true));
    THREAD_WORKERS.with(|w| w.borrow_mut().drain(..).for_each(|w| w.terminate()));
}
