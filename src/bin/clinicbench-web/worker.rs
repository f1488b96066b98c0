//! The page's side of the worker: messages out (queued until the worker is ready, the backend
//! choice first), and what the worker says, landing in the page's state. Messages travel as
//! JavaScript values (serde-wasm-bindgen), a model or dataset file beside them as a `Blob`.

use super::checkpoint::{save_run, save_sample, RunMeta};
use super::state::{Live, Loaded, Page, Preview, Progress};
use clinicbench::web::{BackendChoice, FromWorker, ToWorker};
use leptos::prelude::*;
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

thread_local! {
    static WORKER: RefCell<Option<web_sys::Worker>> = const { RefCell::new(None) };
    /// Messages for the worker sent before it was ready (`None` once it is).
    static OUTBOX: RefCell<Option<Vec<js_sys::Object>>> = const { RefCell::new(Some(Vec::new())) };
    /// The engine's worker has said something (it started).
    static ENGINE_SPOKE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The model file last sent to the worker (the benchmark build's peer reads it too).
    static MODEL_FILE: RefCell<Option<web_sys::File>> = const { RefCell::new(None) };
}

/// Sends a message to the worker. Until the worker says it is ready, messages wait here in
/// order, and go after the backend choice: what the page asks never depends on whether the
/// worker or the user was first (a model picked at once still gets `?backend=`).
pub fn send(msg: &ToWorker, file: Option<&web_sys::Blob>) {
    let obj = js_sys::Object::new();
    let value = msg.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap_or(JsValue::NULL);
    let _ = js_sys::Reflect::set(&obj, &"msg".into(), &value);
    if let Some(f) = file {
        let _ = js_sys::Reflect::set(&obj, &"file".into(), f);
    }
    let waiting = OUTBOX.with(|o| o.borrow_mut().as_mut().map(|q| q.push(obj.clone())).is_some());
    if !waiting {
        post(&obj);
    }
}

use serde::Serialize;

fn post(obj: &js_sys::Object) {
    WORKER.with(|w| {
        if let Some(w) = &*w.borrow() {
            let _ = w.post_message(obj);
        }
    });
}

/// The worker is ready: the backend choice first, then what waited, in order.
fn ready(choice: BackendChoice) {
    let waiting = OUTBOX.with(|o| o.borrow_mut().take()).unwrap_or_default();
    send(&ToWorker::ChooseBackend { backend: choice }, None);
    for obj in &waiting {
        post(obj);
    }
}

/// Remembers the model file sent, for the benchmark build's peer.
pub fn model_file_sent(file: web_sys::File) {
    MODEL_FILE.with(|f| *f.borrow_mut() = Some(file));
}

pub fn model_file() -> Option<web_sys::File> {
    MODEL_FILE.with(|f| f.borrow().clone())
}

fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

/// Starts the worker and routes what it says into `page`.
pub fn start(page: Page, choice: BackendChoice) {
    let plan = super::threads::plan();
    let loader = plan.loader();
    let threaded = plan.threaded;
    page.threads.set(plan);
    start_engine(page, choice, loader, threaded);
}

/// Starts the engine's worker from `loader`: a threaded build or the plain one. A threaded engine
/// that dies before its first word (a browser that cannot reserve its shared memory, say) is
/// replaced by the plain one, and the card says why; messages queued for `Ready` wait for that one.
fn start_engine(page: Page, choice: BackendChoice, loader: &'static str, threaded: bool) {
    ENGINE_SPOKE.with(|s| s.set(false));
    let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
        ENGINE_SPOKE.with(|s| s.set(true));
        // The threaded engine's first word: its module and memory, for the thread workers.
        let offer = js_sys::Reflect::get(&ev.data(), &"clinicbenchThreads".into()).unwrap_or(JsValue::UNDEFINED);
        if offer.is_object() {
            return start_threads(page, &offer);
        }
        match serde_wasm_bindgen::from_value::<FromWorker>(ev.data()) {
            Ok(msg) => heard(page, choice, msg),
            Err(e) => page.fail(format!("worker: {e}")),
        }
    });
    match web_sys::Worker::new_with_options(loader, &web_sys::WorkerOptions::new()) {
        Ok(w) => {
            w.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            // A worker that dies (out of memory, a bug) says nothing more: say so, and stop
            // waiting for it.
            let on_error = Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |ev: web_sys::ErrorEvent| {
                super::threads::stop_all();
                if threaded && !ENGINE_SPOKE.with(|s| s.get()) {
                    WORKER.with(|w| w.borrow_mut().take().map(|w| w.terminate()));
                    let why = format!("the threaded engine did not start in this browser ({})", ev.message());
                    let plain = super::threads::CpuThreads::plain(why);
                    let loader = plain.loader();
                    page.threads.set(plain);
                    return start_engine(page, choice, loader, false);
                }
                page.running.set(false);
                page.fail(format!("The engine stopped ({}). Completed samples are kept; reload the page to go on.", ev.message()));
            });
            w.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            on_error.forget();
            WORKER.with(|slot| *slot.borrow_mut() = Some(w));
        }
        Err(e) => page.fail(format!("cannot start the worker: {e:?}")),
    }
    // The page lives as long as the worker: these handlers are never dropped.
    on_message.forget();
}

/// Starts the thread workers the threaded engine offered, then tells the engine to make them its
/// thread pool: sent at once, ahead of anything queued for `Ready`, so no model loads before.
fn start_threads(page: Page, offer: &JsValue) {
    let threads = page.threads.get_untracked().planned;
    let stop_engine = || {
        WORKER.with(|w| {
            if let Some(w) = w.borrow_mut().take() {
                w.terminate();
            }
        })
    };
    match super::threads::start_workers(offer, threads, page, stop_engine) {
        Ok(()) => {
            let obj = js_sys::Object::new();
            let value = ToWorker::Threads { threads }.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap_or(JsValue::NULL);
            let _ = js_sys::Reflect::set(&obj, &"msg".into(), &value);
            post(&obj);
        }
        Err(e) => page.fail(e),
    }
}

/// One message from the worker, into the page's state.
fn heard(page: Page, choice: BackendChoice, msg: FromWorker) {
    let on_error = move |e: String| page.error.set(Some(e));
    match msg {
        FromWorker::Ready => {
            ready(choice);
            // A model picked before the worker was ready is loading now: say that, not "Ready".
            if !page.busy.get_untracked() {
                page.status.set("Ready. Load a model to begin.".into());
            }
        }
        FromWorker::Threads { threads } => page.threads.update(|t| t.running = Some(threads)),
        FromWorker::GpuReport(report) => page.gpu.set(Some(report)),
        FromWorker::ModelLoaded { file_name, sha256, card, backend, backend_reason, source, memory_bytes, chat_template_sha256, adapters } => {
            page.busy.set(false);
            super::speed::model_placed(&file_name, &sha256, &source);
            let from = if source == "browser storage" { " from this browser's storage" } else { "" };
            let with = if adapters.is_empty() { String::new() } else { format!(" with LoRA {}", adapters.iter().map(|a| a.label()).collect::<Vec<_>>().join(" + ")) };
            page.status.set(format!("Loaded {file_name}{from}{with}."));
            // A forward-pass check on WebGPU speaks of the model it ran; another one drops it (a
            // small model's own check follows this message).
            page.gpu.update(|g| *g = g.take().map(|r| r.for_model(&file_name)));
            page.model.set(Some(Loaded { file_name, card, backend, backend_reason, sha256, chat_template_sha256, worker_memory: memory_bytes, adapters }));
        }
        FromWorker::Started { task, total, records, format, bad_rows } => {
            page.running.set(true);
            page.paused.set(false);
            page.progress.set(Progress { done: 0, total, started_ms: now_ms(), ..Progress::default() });
            page.live.set(Live::default());
            let bad = if bad_rows.is_empty() { String::new() } else { format!("; {} bad rows skipped ({})", bad_rows.len(), bad_rows[0]) };
            page.status.set(format!("Running {task}: {total} of {records} documents ({format}){bad}."));
        }
        FromWorker::Prompt { doc_id, prompt, .. } => page.live.update(|l| l.prompt(doc_id, prompt)),
        FromWorker::Token { doc_id, text, .. } => page.live.update(|l| l.token(doc_id, &text)),
        FromWorker::Sample { sample, done, total, prefill_tokens_per_second, decode_tokens_per_second } => {
            page.progress.update(|p| {
                p.done = done;
                p.total = total;
                p.prefill_tok_s = prefill_tokens_per_second;
                p.decode_tok_s = decode_tokens_per_second;
            });
            page.live.update(|l: &mut Live| l.finished(sample.doc_id, || super::samples::probabilities(&sample)));
            if let Some(run) = page.current_run.get_untracked() {
                save_sample(run.id, sample.clone(), on_error);
            }
            page.samples.update(|v| v.push(sample));
        }
        FromWorker::Finished { task, result, provenance, skipped } => {
            page.running.set(false);
            if let Some(run) = page.current_run.get_untracked() {
                save_run(RunMeta { finished: true, ..run }, None, on_error);
            }
            page.results.update(|r| {
                r.retain(|x| x.0.task != task);
                r.push((result, provenance));
            });
            let note = if skipped.is_empty() { String::new() } else { format!(" {} documents skipped.", skipped.len()) };
            page.status.set(format!("Finished {task}.{note}"));
        }
        FromWorker::Paused { task } => {
            page.paused.set(true);
            // A batch paused in the middle runs again from its start on Resume.
            page.live.set(Live::default());
            page.status.set(format!("Paused {task}."));
        }
        FromWorker::Preview { task, data_file, format, records, bad_rows, first } => {
            if task == page.task.get_untracked() {
                page.preview.set(Some(Preview { file: data_file, format, records, bad_rows, first }));
            }
        }
        FromWorker::Bench { backend, result, prompt } => super::speed::measured(page, backend, result, prompt),
        FromWorker::Cancelled { task, done } => {
            page.running.set(false);
            if let Some(run) = page.current_run.get_untracked() {
                save_run(RunMeta { finished: true, ..run }, None, on_error);
            }
            page.status.set(format!("Cancelled {task} after {done} documents; its samples are kept."));
        }
        FromWorker::Judging { done, total } => {
            page.judging.set(Some((done, total)));
            page.status.set(format!("The model has judged {done} of {total} items…"));
        }
        FromWorker::Judged { review } => {
            page.busy.set(false);
            page.judging.set(None);
            page.status.set(format!("The model judged the set: {} ratings, as the rater {}.", review.ratings.len(), review.rater));
            page.judged.set(Some(*review));
        }
        FromWorker::Error { message } => {
            page.running.set(false);
            page.judging.set(None);
            page.fail(message);
        }
    }
}
