//! How many CPU threads the engine gets in this browser, and the thread workers that give them.
//!
//! The page ships two builds of the engine: the plain one (one thread) and a threaded one
//! (WebAssembly threads over a shared memory, `scripts/build-worker-threads.sh`). The threaded one
//! needs `SharedArrayBuffer`, which browsers give only to a cross-origin isolated page (the
//! service worker and `scripts/run.sh` send the headers). The count is the browser's cores,
//! capped, or `?threads=N`.
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
    /// Threads the page asked the engine for (1: the plain build).
    pub planned: usize,
    /// Threads running, once the engine says so.
    pub running: Option<usize>,
    /// Why one thread, where the page runs one.
    pub why_one: Option<String>,
}

impl CpuThreads {
    /// One line for the model card.
    pub fn summary(&self) -> String {
        match (self.running, &self.why_one) {
            (Some(n), _) => format!("CPU: {n} threads (WebAssembly threads; ?threads=N sets the number)."),
            (None, Some(why)) => format!("CPU: one thread, because {why}."),
            (None, None) if self.planned > 1 => format!("CPU: starting {} threads…", self.planned),
            (None, None) => "CPU: one thread (?threads=1).".to_string(),
        }
    }

    /// The threaded build runs.
    pub fn threaded(&self) -> bool {
        self.planned > 1
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

/// How many threads this page runs, and why one where it runs one.
pub fn plan() -> CpuThreads {
    let cores = web_sys::window().map_or(1, |w| w.navigator().hardware_concurrency() as usize).max(1);
    let (wanted, note) = match asked() {
        Some(Ok(n)) => (n, None),
        Some(Err(why)) => (cores.min(MAX_THREADS), Some(why)),
        None => (cores.min(MAX_THREADS), None),
    };
    if wanted == 1 {
        let why = match note {
            Some(why) => why,
            None if cores == 1 => "this browser reports one core".to_string(),
            None => return CpuThreads { planned: 1, running: None, why_one: None },
        };
        return CpuThreads { planned: 1, running: None, why_one: Some(why) };
    }
    match shared_memory() {
        Ok(()) => CpuThreads { planned: wanted, running: None, why_one: None },
        Err(why) => CpuThreads { planned: 1, running: None, why_one: Some(why) },
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
