//! The page: a model and a benchmark become scores, live, in the browser, with nothing leaving
//! the device. The UI thread only renders; a worker ([`clinicbench::web::Session`]) runs the
//! model. Model and dataset text is only ever rendered as text, never as HTML.

#[cfg(target_arch = "wasm32")]
#[path = "clinicbench-web/side_by_side.rs"]
mod side_by_side;

#[cfg(target_arch = "wasm32")]
#[path = "clinicbench-web/files.rs"]
mod files;

#[cfg(target_arch = "wasm32")]
#[path = "clinicbench-web/checkpoint.rs"]
mod checkpoint;

#[cfg(target_arch = "wasm32")]
#[path = "clinicbench-web/review.rs"]
mod review;

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("clinicbench-web is the page's WebAssembly UI: build the page with `trunk build`");
}

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}

#[cfg(target_arch = "wasm32")]
mod app {
    use clinicbench::model::card::ModelCard;
    use clinicbench::report::{Host, RunReport, TaskProvenance, TaskResult};
    use clinicbench::tasks::{Sample, TaskSpec};
    use crate::checkpoint;
    use crate::files::download;
    use crate::review::ReviewWorkspace;
    use crate::side_by_side::RunsSideBySide;
    use clinicbench::web::{FromWorker, RunRequest, Session, ToWorker};
    use leptos::prelude::*;
    use serde_json::Value;
    use std::cell::RefCell;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;

    thread_local! {
        static WORKER: RefCell<Option<web_sys::Worker>> = const { RefCell::new(None) };
        static DATA_FILE: RefCell<Option<web_sys::File>> = const { RefCell::new(None) };
        /// The model file last sent to the worker, and where the loaded model's bytes are for
        /// the benchmark build's peer (`{file}` or `{opfs: [names]}`).
        static MODEL_FILE: RefCell<Option<web_sys::File>> = const { RefCell::new(None) };
        static PEER_SOURCE: RefCell<Option<js_sys::Object>> = const { RefCell::new(None) };
        /// Messages for the worker sent before it was ready (`None` once it is).
        static OUTBOX: RefCell<Option<Vec<js_sys::Object>>> = const { RefCell::new(Some(Vec::new())) };
    }

    /// What the benchmark build's peer measured (`window.clinicbenchPeer`, see www/bench/).
    #[derive(Clone, serde::Deserialize)]
    struct PeerBench {
        peer: String,
        prompt_tokens: usize,
        gen_tokens: usize,
        prefill_tok_s: f64,
        decode_tok_s: f64,
    }

    fn serde_wasm_peer(v: JsValue) -> Result<PeerBench, String> {
        let text = js_sys::JSON::stringify(&v).ok().and_then(|t| t.as_string()).unwrap_or_default();
        serde_json::from_str(&text).map_err(|e| format!("the peer answered something else: {e}"))
    }

    fn js_error_text(e: &JsValue) -> String {
        e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).or_else(|| e.as_string()).unwrap_or_else(|| format!("{e:?}"))
    }

    /// Runs the benchmark build's peer on the loaded model with our bench's prompt; `None`
    /// when this build has no peer.
    fn peer_bench(prompt: &str, prompt_tokens: usize, gen_tokens: usize, gpu: bool) -> Option<js_sys::Promise> {
        let peer = js_sys::Reflect::get(&js_sys::global(), &"clinicbenchPeer".into()).ok().filter(|p| p.is_object())?;
        let run: js_sys::Function = js_sys::Reflect::get(&peer, &"run".into()).ok()?.dyn_into().ok()?;
        let source = PEER_SOURCE.with(|s| s.borrow().clone())?;
        let args = js_sys::Array::of5(&source, &prompt.into(), &(prompt_tokens as f64).into(), &(gen_tokens as f64).into(), &gpu.into());
        run.apply(&peer, &args).ok()?.dyn_into().ok()
    }

    /// The demo model, served beside the page by `scripts/run.sh`.
    const DEMO_MODEL: &str = "models/demo.gguf";

    /// Sends a message to the worker. Until the worker says it is ready, messages wait here in
    /// order, and go after the backend choice: what the page asks never depends on whether the
    /// worker or the user was first (a model picked at once still gets `?backend=`).
    fn send(msg: &ToWorker, file: Option<&web_sys::Blob>) {
        let obj = js_sys::Object::new();
        let text = serde_json::to_string(msg).unwrap_or_default();
        let _ = js_sys::Reflect::set(&obj, &"json".into(), &text.into());
        if let Some(f) = file {
            let _ = js_sys::Reflect::set(&obj, &"file".into(), f);
        }
        let waiting = OUTBOX.with(|o| o.borrow_mut().as_mut().map(|q| q.push(obj.clone())).is_some());
        if !waiting {
            post(&obj);
        }
    }

    fn post(obj: &js_sys::Object) {
        WORKER.with(|w| {
            if let Some(w) = &*w.borrow() {
                let _ = w.post_message(obj);
            }
        });
    }

    /// The worker is ready: the backend choice first, then what waited, in order.
    fn worker_ready(choice: clinicbench::web::BackendChoice) {
        let waiting = OUTBOX.with(|o| o.borrow_mut().take()).unwrap_or_default();
        send(&ToWorker::ChooseBackend { backend: choice }, None);
        for obj in &waiting {
            post(obj);
        }
    }

    fn now_ms() -> f64 {
        web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
    }

    /// The browser as the report's host: its user agent and the cores it reports.
    fn browser_host() -> Host {
        let nav = web_sys::window().map(|w| w.navigator());
        Host {
            os: "browser".into(),
            arch: "wasm32".into(),
            cpus: nav.as_ref().map(|n| n.hardware_concurrency() as usize),
            user_agent: nav.and_then(|n| n.user_agent().ok()),
        }
    }

    fn mib(b: u64) -> String {
        format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
    }

    fn find_spec(name: &str) -> Option<TaskSpec> {
        clinicbench::tasks::spec::find(name)
    }

    /// Whether a sample is right (by `acc`), wrong, or neither (no accuracy for its task).
    fn correctness(s: &Sample) -> Option<bool> {
        s.metrics.get("acc").map(|v| *v >= 1.0)
    }

    fn value_text(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Array(a) => a.iter().map(value_text).collect::<Vec<_>>().join(", "),
            Value::Null => "(no answer)".into(),
            other => other.to_string(),
        }
    }

    fn gold_text(s: &Sample) -> String {
        match (s.target.as_u64(), s.choices.is_empty()) {
            (Some(i), false) => s.choices.get(i as usize).cloned().unwrap_or_default(),
            _ => value_text(&s.target),
        }
    }

    fn pred_text(s: &Sample) -> String {
        if let Some(ans) = &s.answer {
            return value_text(ans);
        }
        s.pred.and_then(|i| s.choices.get(i).cloned()).unwrap_or_else(|| "(no answer)".into())
    }

    /// Each choice's probability among the choices (softmax of the loglikelihoods).
    fn probabilities(s: &Sample) -> Vec<(String, f64, bool)> {
        let Some(lls) = &s.loglikelihoods else { return vec![] };
        let max = lls.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = lls.iter().map(|l| (l - max).exp()).sum();
        let gold = s.target.as_u64().map(|g| g as usize);
        s.choices.iter().zip(lls).enumerate().map(|(i, (c, l))| (c.clone(), (l - max).exp() / z, Some(i) == gold)).collect()
    }

    /// Each choice's probability as a bar, the gold one marked.
    fn probability_bars(probs: Vec<(String, f64, bool)>) -> impl IntoView {
        view! {
            <div class="probs">
                {probs.into_iter().map(|(c, p, gold)| view! {
                    <div class="prob"><span class="choice">{c}{if gold { " (gold)" } else { "" }}</span>
                    <meter class="bar" min="0" max="1" value=p.to_string()></meter>
                    <span class="pct">{format!("{:.1}%", p * 100.0)}</span></div>
                }).collect_view()}
            </div>
        }
    }

    fn csv_field(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    }


    /// A run as its checkpoint keeps it.
    #[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
    struct RunMeta {
        id: String,
        request: RunRequest,
        model_name: String,
        model_sha256: String,
        finished: bool,
    }

    fn record(meta: &RunMeta, data: Option<&web_sys::Blob>) -> JsValue {
        let obj = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&obj, &"json".into(), &serde_json::to_string(meta).unwrap_or_default().into());
        if let Some(d) = data {
            let _ = js_sys::Reflect::set(&obj, &"data".into(), d);
        }
        obj.into()
    }

    fn save_meta(meta: RunMeta, data: Option<web_sys::Blob>, on_error: WriteSignal<Option<String>>) {
        leptos::task::spawn_local(async move {
            let r = async {
                let db = checkpoint::open().await?;
                checkpoint::put(&db, "runs", &meta.id, &record(&meta, data.as_ref())).await
            }
            .await;
            if let Err(e) = r {
                on_error.set(Some(format!("cannot checkpoint the run: {e}")));
            }
        });
    }

    fn save_sample(run_id: String, sample: Sample, on_error: WriteSignal<Option<String>>) {
        leptos::task::spawn_local(async move {
            let r = async {
                let db = checkpoint::open().await?;
                let key = format!("{run_id}/{:08}", sample.doc_id);
                let text = serde_json::to_string(&sample).map_err(|e| e.to_string())?;
                checkpoint::put(&db, "samples", &key, &JsValue::from_str(&text)).await
            }
            .await;
            if let Err(e) = r {
                on_error.set(Some(format!("cannot checkpoint a sample: {e}")));
            }
        });
    }

    /// The most recent unfinished run, with its dataset file and finished samples.
    async fn interrupted_run() -> Result<Option<(RunMeta, Option<web_sys::Blob>, Vec<Sample>)>, String> {
        let db = checkpoint::open().await?;
        let mut runs: Vec<(RunMeta, Option<web_sys::Blob>)> = checkpoint::entries(&db, "runs", "")
            .await?
            .into_iter()
            .filter_map(|(_, v)| {
                let json = js_sys::Reflect::get(&v, &"json".into()).ok()?.as_string()?;
                let meta: RunMeta = serde_json::from_str(&json).ok()?;
                let data = js_sys::Reflect::get(&v, &"data".into()).ok().and_then(|d| d.dyn_into::<web_sys::Blob>().ok());
                Some((meta, data))
            })
            .filter(|(m, _)| !m.finished)
            .collect();
        runs.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        let Some((meta, data)) = runs.pop() else { return Ok(None) };
        let mut samples: Vec<Sample> = checkpoint::entries(&db, "samples", &format!("{}/", meta.id))
            .await?
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_str(&v.as_string()?).ok())
            .collect();
        samples.sort_by_key(|s| s.doc_id);
        Ok(Some((meta, data, samples)))
    }

    fn forget_run(meta: RunMeta) {
        leptos::task::spawn_local(async move {
            if let Ok(db) = checkpoint::open().await {
                let _ = checkpoint::delete_prefix(&db, "samples", &format!("{}/", meta.id)).await;
                let id = meta.id.clone();
                let _ = checkpoint::put(&db, "runs", &id, &record(&RunMeta { finished: true, ..meta }, None)).await;
            }
        });
    }

    #[component]
    pub fn App() -> impl IntoView {
        let (status, set_status) = signal(String::from("Starting…"));
        let (error, set_error) = signal(None::<String>);
        let (card, set_card) = signal(None::<(String, ModelCard, String, String)>);
        let (worker_memory, set_worker_memory) = signal(None::<u64>);
        let (model_sha, set_model_sha) = signal(String::new());
        let (template_sha, set_template_sha) = signal(None::<String>);
        let (current_run, set_current_run) = signal(None::<RunMeta>);
        let (interrupted, set_interrupted) = signal(None::<(RunMeta, Option<web_sys::Blob>, Vec<Sample>)>);
        let (busy, set_busy) = signal(false);
        let (running, set_running) = signal(false);
        let (paused, set_paused) = signal(false);
        let (progress, set_progress) = signal((0usize, 0usize));
        let (speed, set_speed) = signal((None::<f64>, None::<f64>));
        let (started_at, set_started_at) = signal(0f64);
        let (live_prompt, set_live_prompt) = signal(String::new());
        let (live_text, set_live_text) = signal(String::new());
        let (live_probs, set_live_probs) = signal(Vec::<(String, f64, bool)>::new());
        let (samples, set_samples) = signal(Vec::<Sample>::new());
        let (results, set_results) = signal(Vec::<(TaskResult, TaskProvenance)>::new());

        // `?backend=webgpu` or `?backend=cpu` asks for a backend; without it the worker chooses.
        let requested_backend = web_sys::window()
            .and_then(|w| w.location().search().ok())
            .and_then(|q| q.trim_start_matches('?').split('&').find_map(|kv| kv.strip_prefix("backend=").map(str::to_string)));
        let (backend_choice, backend_note) = match clinicbench::web::BackendChoice::from_query(requested_backend.as_deref()) {
            Ok(choice) => (choice, None),
            Err(note) => (clinicbench::web::BackendChoice::Auto, Some(note)),
        };
        let specs = Session::tasks();
        // The select lists the demo sets first; the first of them is what it shows at start.
        let first = specs.iter().find(|s| s.group.as_deref() == Some("demo")).or(specs.first());
        let (task, set_task) = signal(first.map(|s| s.name.clone()).unwrap_or_default());
        let (data_name, set_data_name) = signal(None::<String>);
        let (shots, set_shots) = signal(0usize);
        let (limit, set_limit) = signal(Some(5usize));
        let (seed, set_seed) = signal(1234u64);
        let (max_new, set_max_new) = signal(None::<usize>);
        let (chat, set_chat) = signal(false);
        let (url, set_url) = signal(String::new());
        let (keep_model, set_keep_model) = signal(false);
        let (filter, set_filter) = signal(String::from("all"));
        let (baseline, set_baseline) = signal(None::<(String, RunReport)>);
        let (import_notes, set_import_notes) = signal(Vec::<String>::new());
        let (bench, set_bench) = signal(None::<(String, clinicbench::engine::Bench)>);
        let (peer, set_peer) = signal(None::<Result<PeerBench, String>>);
        let (preview, set_preview) = signal(None::<(String, String, usize, Vec<String>, Vec<String>)>);
        let (search, set_search) = signal(String::new());
        let (gpu, set_gpu) = signal(None::<clinicbench::web::GpuReport>);

        // The worker, and what it says.
        let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            let Some(text) = ev.data().as_string() else { return };
            let msg: FromWorker = match serde_json::from_str(&text) {
                Ok(m) => m,
                Err(e) => return set_error.set(Some(format!("worker: {e}"))),
            };
            match msg {
                FromWorker::Ready => {
                    worker_ready(backend_choice);
                    set_status.set("Ready. Load a model to begin.".into());
                }
                FromWorker::GpuReport(report) => set_gpu.set(Some(report)),
                FromWorker::ModelLoaded { file_name, sha256, card, backend, backend_reason, source, memory_bytes, chat_template_sha256 } => {
                    set_busy.set(false);
                    set_template_sha.set(chat_template_sha256);
                    set_worker_memory.set(memory_bytes);
                    // A picked file is the File itself; anything else the worker kept in OPFS.
                    let peer_source = js_sys::Object::new();
                    let file = MODEL_FILE.with(|f| f.borrow().clone()).filter(|f| source == "file" && f.name() == file_name);
                    let _ = match file {
                        Some(f) => js_sys::Reflect::set(&peer_source, &"file".into(), &f),
                        None => js_sys::Reflect::set(&peer_source, &"opfs".into(), &js_sys::Array::of1(&clinicbench::web::kept_model_name(&sha256).into())),
                    };
                    PEER_SOURCE.with(|s| *s.borrow_mut() = Some(peer_source));
                    set_model_sha.set(sha256);
                    let from = if source == "browser storage" { " from this browser's storage" } else { "" };
                    set_status.set(format!("Loaded {file_name}{from}."));
                    // A forward-pass check on WebGPU speaks of the model it ran; another one
                    // drops it (a small model's own check follows this message).
                    set_gpu.update(|g| *g = g.take().map(|r| r.for_model(&file_name)));
                    set_card.set(Some((file_name, card, backend, backend_reason)));
                }
                FromWorker::Started { task, total, records, format, bad_rows } => {
                    set_running.set(true);
                    set_paused.set(false);
                    set_progress.set((0, total));
                    set_started_at.set(now_ms());
                    let bad = if bad_rows.is_empty() { String::new() } else { format!("; {} bad rows skipped ({})", bad_rows.len(), bad_rows[0]) };
                    set_status.set(format!("Running {task}: {total} of {records} documents ({format}){bad}."));
                }
                FromWorker::Prompt { prompt, .. } => {
                    set_live_prompt.set(prompt);
                    set_live_text.set(String::new());
                }
                FromWorker::Token { text, .. } => set_live_text.update(|t| t.push_str(&text)),
                FromWorker::Sample { sample, done, total, prefill_tokens_per_second, decode_tokens_per_second } => {
                    set_progress.set((done, total));
                    set_speed.set((prefill_tokens_per_second, decode_tokens_per_second));
                    set_live_probs.set(probabilities(&sample));
                    if let Some(run) = current_run.get_untracked() {
                        save_sample(run.id, sample.clone(), set_error);
                    }
                    set_samples.update(|v| v.push(sample));
                }
                FromWorker::Finished { task, result, provenance, skipped } => {
                    set_running.set(false);
                    if let Some(run) = current_run.get_untracked() {
                        save_meta(RunMeta { finished: true, ..run }, None, set_error);
                    }
                    set_results.update(|r| {
                        r.retain(|x| x.0.task != task);
                        r.push((result, provenance));
                    });
                    let note = if skipped.is_empty() { String::new() } else { format!(" {} documents skipped.", skipped.len()) };
                    set_status.set(format!("Finished {task}.{note}"));
                }
                FromWorker::Paused { task } => {
                    set_paused.set(true);
                    set_status.set(format!("Paused {task}."));
                }
                FromWorker::Preview { task: t, data_file, format, records, bad_rows, first } => {
                    if t == task.get_untracked() {
                        set_preview.set(Some((data_file, format, records, bad_rows, first)));
                    }
                }
                FromWorker::Bench { backend, result, prompt } => {
                    set_peer.set(None);
                    let gpu = backend.starts_with("wgpu");
                    match peer_bench(&prompt, result.prompt_tokens, result.gen_tokens, gpu) {
                        Some(promise) => {
                            set_status.set("Speed measured; measuring the peer on the same file…".into());
                            wasm_bindgen_futures::spawn_local(async move {
                                let measured = match wasm_bindgen_futures::JsFuture::from(promise).await {
                                    Ok(v) => serde_wasm_peer(v),
                                    Err(e) => Err(format!("the peer failed: {}", js_error_text(&e))),
                                };
                                set_peer.set(Some(measured));
                                set_busy.set(false);
                                set_status.set("Speed measured.".into());
                            });
                        }
                        None => {
                            set_busy.set(false);
                            set_status.set("Speed measured.".into());
                        }
                    }
                    set_bench.set(Some((backend, result)));
                }
                FromWorker::Cancelled { task, done } => {
                    set_running.set(false);
                    if let Some(run) = current_run.get_untracked() {
                        save_meta(RunMeta { finished: true, ..run }, None, set_error);
                    }
                    set_status.set(format!("Cancelled {task} after {done} documents; its samples are kept."));
                }
                FromWorker::Error { message } => {
                    set_busy.set(false);
                    set_running.set(false);
                    set_error.set(Some(message));
                }
            }
        });
        let options = web_sys::WorkerOptions::new();
        match web_sys::Worker::new_with_options("./clinicbench-worker_loader.js", &options) {
            Ok(w) => {
                w.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
                // A worker that dies (out of memory, a bug) says nothing more: say so, and stop
                // waiting for it.
                let on_error = Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |ev: web_sys::ErrorEvent| {
                    set_busy.set(false);
                    set_running.set(false);
                    set_error.set(Some(format!(
                        "The engine stopped ({}). Completed samples are kept; reload the page to go on.",
                        ev.message()
                    )));
                });
                w.set_onerror(Some(on_error.as_ref().unchecked_ref()));
                on_error.forget();
                WORKER.with(|slot| *slot.borrow_mut() = Some(w));
            }
            Err(e) => set_error.set(Some(format!("cannot start the worker: {e:?}"))),
        }
        on_message.forget();

        let load_demo = move |_| {
            set_error.set(None);
            set_busy.set(true);
            set_status.set("Loading the demo model…".into());
            send(&ToWorker::LoadUrl { url: DEMO_MODEL.into() }, None);
        };
        // A model file, picked or dropped.
        let load_model_file = move |file: web_sys::File| {
            set_error.set(None);
            set_busy.set(true);
            set_status.set(format!("Loading {}…", file.name()));
            send(&ToWorker::LoadModel { file_name: file.name(), keep: keep_model.get_untracked() }, Some(&file));
            MODEL_FILE.with(|f| *f.borrow_mut() = Some(file));
        };
        let load_file = move |ev: leptos::ev::Event| {
            let input: web_sys::HtmlInputElement = event_target(&ev);
            if let Some(file) = input.files().and_then(|l| l.get(0)) {
                load_model_file(file);
            }
        };
        let load_url = move |_: ()| {
            let u = url.get_untracked();
            if u.trim().is_empty() {
                return;
            }
            set_error.set(None);
            set_busy.set(true);
            set_status.set(format!("Fetching {u}…"));
            send(&ToWorker::LoadUrl { url: u }, None);
        };
        // A dataset file, picked or dropped: remembered for the run, and previewed now.
        let use_data = move |file: Option<web_sys::File>| {
            set_preview.set(None);
            set_data_name.set(file.as_ref().map(|f| f.name()));
            if let Some(f) = &file {
                send(&ToWorker::Preview { task: task.get_untracked(), data_file: f.name() }, Some(f.as_ref()));
            }
            DATA_FILE.with(|d| *d.borrow_mut() = file);
        };
        let pick_data = move |ev: leptos::ev::Event| {
            let input: web_sys::HtmlInputElement = event_target(&ev);
            use_data(input.files().and_then(|l| l.get(0)));
        };
        // Files dropped on the page: a .gguf is a model, anything else the task's dataset.
        let on_drop = move |ev: leptos::ev::DragEvent| {
            ev.prevent_default();
            let Some(file) = ev.data_transfer().and_then(|d| d.files()).and_then(|l| l.get(0)) else { return };
            if file.name().to_lowercase().ends_with(".gguf") {
                if !busy.get_untracked() && !running.get_untracked() {
                    load_model_file(file);
                }
            } else if find_spec(&task.get_untracked()).is_some_and(|s| !s.is_builtin_data()) {
                use_data(Some(file));
            } else {
                set_error.set(Some(format!("{}: choose a task that takes a dataset file first (the demo sets have their own data)", file.name())));
            }
        };
        if let Some(body) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.body()) {
            let drop = Closure::<dyn FnMut(web_sys::DragEvent)>::new(on_drop);
            let over = Closure::<dyn FnMut(web_sys::DragEvent)>::new(|ev: web_sys::DragEvent| ev.prevent_default());
            let _ = body.add_event_listener_with_callback("drop", drop.as_ref().unchecked_ref());
            let _ = body.add_event_listener_with_callback("dragover", over.as_ref().unchecked_ref());
            drop.forget();
            over.forget();
        }
        let start = move |_| {
            set_error.set(None);
            let name = task.get();
            set_samples.update(|v| v.retain(|s| s.task != name));
            let builtin = find_spec(&name).is_some_and(|s| s.is_builtin_data());
            let req = RunRequest {
                task: name,
                data_file: if builtin { None } else { data_name.get() },
                shots: shots.get(),
                limit: limit.get(),
                seed: seed.get(),
                max_new_tokens: max_new.get(),
                chat_template: chat.get(),
                previous: vec![],
            };
            let file = if req.data_file.is_some() { DATA_FILE.with(|d| d.borrow().clone()) } else { None };
            let meta = RunMeta {
                id: format!("{:015}-{}", js_sys::Date::now() as u64, req.task),
                request: req.clone(),
                model_name: card.get_untracked().map(|c| c.0).unwrap_or_default(),
                model_sha256: model_sha.get_untracked(),
                finished: false,
            };
            save_meta(meta.clone(), file.clone().map(Into::into), set_error);
            set_current_run.set(Some(meta));
            send(&ToWorker::Run(req), file.as_ref().map(|f| f.as_ref()));
        };
        // A run a reload interrupted: offer to resume it.
        leptos::task::spawn_local(async move {
            match interrupted_run().await {
                Ok(r) => set_interrupted.set(r),
                Err(e) => set_error.set(Some(e)),
            }
        });
        let resume_interrupted = move |_| {
            let Some((meta, data, kept)) = interrupted.get_untracked() else { return };
            set_error.set(None);
            let mut req = meta.request.clone();
            req.previous = kept.clone();
            let task = req.task.clone();
            set_samples.update(|v| {
                v.retain(|s| s.task != task);
                v.extend(kept);
            });
            set_current_run.set(Some(meta));
            set_interrupted.set(None);
            send(&ToWorker::Run(req), data.as_ref());
        };
        let discard_interrupted = move |_| {
            if let Some((meta, _, _)) = interrupted.get_untracked() {
                forget_run(meta);
            }
            set_interrupted.set(None);
        };
        // This page's run as the one report type: what the CLI writes, plus the samples.
        let page_report = move || {
            let loaded = card.get_untracked().map(|(file_name, card, backend, _)| clinicbench::web::LoadedModel {
                file_name,
                sha256: model_sha.get_untracked(),
                card,
                backend,
                chat_template_sha256: template_sha.get_untracked(),
            });
            clinicbench::web::page_report(
                loaded.as_ref(),
                &results.get_untracked(),
                &samples.get_untracked(),
                browser_host(),
                (js_sys::Date::now() / 1000.0) as u64,
            )
        };
        // The same, kept current for the side-by-side section.
        let page_run = Signal::derive(move || {
            results.track();
            samples.track();
            card.track();
            model_sha.track();
            page_report()
        });
        let export_json = move |_| {
            download("clinicbench-results.json", &page_report().export_json(), "application/json");
        };
        let export_csv = move |_| {
            let mut out = String::from("task,doc_id,native_id,gold,prediction,correct\n");
            for s in samples.get() {
                let c = correctness(&s).map_or(String::new(), |b| b.to_string());
                out.push_str(&format!(
                    "{},{},{},{},{},{}\n",
                    csv_field(&s.task),
                    s.doc_id,
                    csv_field(&s.native_id),
                    csv_field(&gold_text(&s)),
                    csv_field(&pred_text(&s)),
                    c
                ));
            }
            download("clinicbench-samples.csv", &out, "text/csv");
        };

        // A run to compare with: a page export, or a CLI run's results.json with its
        // samples.jsonl, picked together.
        let import_run = move |ev: leptos::ev::Event| {
            let files = crate::files::picked(&ev);
            if files.is_empty() {
                return;
            }
            leptos::task::spawn_local(async move {
                let read = match crate::files::read_texts(&files).await {
                    Ok(r) => r,
                    Err(e) => return set_error.set(Some(e)),
                };
                let parts: Vec<(&str, &[u8])> = read.iter().map(|(n, t)| (n.as_str(), t.as_bytes())).collect();
                let label = read.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(" + ");
                match clinicbench::report::import_files(&parts) {
                    Ok(imported) if imported.report.samples.is_empty() => set_error.set(Some(format!(
                        "{label}: a run without samples: pick its samples.jsonl with its results.json to compare document by document"
                    ))),
                    Ok(imported) => {
                        set_import_notes.set(imported.notes);
                        set_baseline.set(Some((label, imported.report)));
                    }
                    Err(e) => set_error.set(Some(e.to_string())),
                }
            });
        };
        let comparisons = move || {
            let (name, base) = baseline.get()?;
            // Tasks run on different data files are not paired.
            let ours: Vec<(TaskResult, TaskProvenance)> = results.get();
            let refused: Vec<(String, String)> = ours
                .iter()
                .filter_map(|(r, p)| Some((r.task.clone(), clinicbench::report::unpairable(base.provenance.tasks.get(&r.task), Some(p))?)))
                .collect();
            let keep = |s: &&Sample| !refused.iter().any(|(t, _)| *t == s.task);
            let a: Vec<Sample> = base.samples.iter().filter(keep).cloned().collect();
            let b: Vec<Sample> = samples.get().iter().filter(keep).cloned().collect();
            Some((name, refused, clinicbench::tasks::compare_runs(&a, &b, &find_spec)))
        };

        let spec_of_task = move || find_spec(&task.get());
        let task_options = {
            let mut groups: Vec<(String, Vec<TaskSpec>)> = Vec::new();
            for s in specs {
                let g = if s.group.as_deref() == Some("demo") { "demo (built in)".to_string() } else { s.scenario.clone() };
                match groups.iter_mut().find(|x| x.0 == g) {
                    Some(x) => x.1.push(s),
                    None => groups.push((g, vec![s])),
                }
            }
            groups.sort_by_key(|(g, _)| !g.starts_with("demo"));
            groups
                .into_iter()
                .map(|(g, list)| {
                    view! {
                        <optgroup label=g>
                            {list
                                .into_iter()
                                .map(|s| {
                                    let label = format!("{} — {} ({})", s.name, s.task, s.metrics.join(", "));
                                    view! { <option value=s.name.clone()>{label}</option> }
                                })
                                .collect_view()}
                        </optgroup>
                    }
                })
                .collect_view()
        };

        let filtered = move || {
            let f = filter.get();
            let q = search.get().to_lowercase();
            samples
                .get()
                .into_iter()
                .filter(|s| match f.as_str() {
                    "correct" => correctness(s) == Some(true),
                    "wrong" => correctness(s) == Some(false),
                    "unparsed" => s.unparsed,
                    _ => true,
                })
                .filter(|s| q.is_empty() || s.prompt.to_lowercase().contains(&q) || s.generation.as_deref().unwrap_or("").to_lowercase().contains(&q))
                .take(200)
                .collect::<Vec<_>>()
        };

        view! {
            <header>
                <h1>"ClinicBench Web"</h1>
                <p class="tagline">"Medical language models evaluated on this device. Nothing you load leaves it."</p>
            </header>
            <p class="status" id="status" role="status" aria-live="polite">{move || status.get()}</p>
            <Show when=move || error.get().is_some()>
                <p class="error" id="error" role="alert">{move || error.get().unwrap_or_default()}</p>
            </Show>

            {move || interrupted.get().map(|(meta, _, kept)| {
                let same_model = !model_sha.get().is_empty() && model_sha.get() == meta.model_sha256;
                let need = format!("{} (SHA-256 {}…)", meta.model_name, meta.model_sha256.chars().take(12).collect::<String>());
                view! {
                    <section id="interrupted" class="notice">
                        <p>{format!("A run of {} stopped after {} documents; it can go on from there.", meta.request.task, kept.len())}</p>
                        <Show when=move || !same_model>
                            <p>{format!("Load the same model first: {need}. It is checked by its SHA-256.")}</p>
                            <button id="load-kept" on:click={
                                let sha = meta.model_sha256.clone();
                                move |_| {
                                    set_busy.set(true);
                                    send(&ToWorker::LoadKept { sha256: sha.clone() }, None)
                                }
                            } disabled=move || busy.get()>"Load it from this browser's storage, if kept"</button>
                        </Show>
                        <div class="row">
                            <button id="resume-run" on:click=resume_interrupted disabled=move || !same_model || running.get()>"Resume the run"</button>
                            <button id="discard-run" on:click=discard_interrupted>"Discard it"</button>
                        </div>
                    </section>
                }
            })}

            <section id="model">
                <h2>"Model"</h2>
                <div class="row">
                    <button id="load-demo" on:click=load_demo disabled=move || busy.get() || running.get()>"Load the demo model (Gemma 3 270M)"</button>
                    <label>"or a GGUF file " <input type="file" id="model-file" data-testid="model-file" accept=".gguf" on:change=load_file disabled=move || busy.get() || running.get()/></label>
                    <label><input type="checkbox" id="keep-model" on:change=move |ev| set_keep_model.set(event_target_checked(&ev))/>" keep it in this browser for next time"</label>
                </div>
                <div class="row">
                    <input type="url" id="model-url" data-testid="model-url" aria-label="Model URL" placeholder="https://… a .gguf URL (fetched only when you press Fetch)" prop:value=move || url.get() on:input=move |ev| set_url.set(event_target_value(&ev))
                        on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Enter" { load_url(()) }/>
                    <button id="load-url" on:click=move |_| load_url(()) disabled=move || busy.get() || running.get()>"Fetch"</button>
                </div>
                <p id="gpu-check" data-testid="gpu-check" data-ok=move || gpu.get().map(|g| g.ok().to_string())>
                    {move || gpu.get().map(|g| g.summary()).unwrap_or_else(|| "WebGPU: checking the kernels…".into())}
                </p>
                {move || card.get().map(|(file, c, backend, reason)| view! {
                    <dl class="card" id="model-card" data-testid="model-card">
                        <dt>"File"</dt><dd>{file}</dd>
                        <dt>"Architecture"</dt><dd>{c.architecture.clone()}</dd>
                        <dt>"Parameters"</dt><dd>{format!("{:.1} M", c.parameters as f64 / 1e6)}</dd>
                        <dt>"Quantization"</dt><dd>{c.quantization.iter().map(|q| format!("{} {}", q.ty, mib(q.bytes))).collect::<Vec<_>>().join(", ")}</dd>
                        <dt>"Context"</dt><dd>{format!("{} tokens (KV cache {} tokens)", c.context_length, c.memory_ctx)}</dd>
                        <dt>"Memory"</dt><dd>{mib(c.memory_bytes)}</dd>
                        {worker_memory.get().map(|m| view! {
                            <dt>"Worker memory"</dt>
                            <dd id="worker-memory" data-bytes=m.to_string()>{format!("{} of WebAssembly memory in the worker", mib(m))}</dd>
                        })}
                        <dt>"Chat template"</dt><dd>{if c.chat_template { "yes" } else { "no (a base model)" }}</dd>
                        <dt>"Backend"</dt><dd id="backend" data-testid="backend">{format!("{backend} — {reason}")}</dd>
                        {backend_note.clone().map(|n| view! { <dt>"Note"</dt><dd id="backend-note">{n}</dd> })}
                    </dl>
                })}
            </section>

            <section id="benchmark">
                <h2>"Benchmark"</h2>
                <div class="row">
                    <select id="task" data-testid="task" aria-label="Task" on:change=move |ev| {
                        // A dataset file belongs to the task it was chosen for.
                        set_task.set(event_target_value(&ev));
                        set_data_name.set(None);
                        set_preview.set(None);
                        DATA_FILE.with(|d| *d.borrow_mut() = None);
                    }>{task_options}</select>
                </div>
                {move || spec_of_task().map(|s| view! {
                    <p class="task-info">
                        {format!("{} · {} · {} · data: {} · licence: {}", s.scenario, s.task, s.metrics.join(", "), s.dataset, s.licence)}
                    </p>
                    <Show when=move || !s.is_builtin_data()>
                        <label>"Dataset file (" {spec_of_task().map(|s| s.path).unwrap_or_default()} ") "
                            <input type="file" id="data-file" data-testid="dataset-file" on:change=pick_data/>
                        </label>
                        <span class="muted">" (or drop it on the page)"</span>
                    </Show>
                })}
                {move || preview.get().map(|(name, format, records, bad, first)| view! {
                    <div id="data-preview">
                        <p>{format!("{name}: {format}, {records} records{}", if bad.is_empty() { String::new() } else { format!(", {} bad rows (first: {})", bad.len(), bad[0]) })}</p>
                        {first.into_iter().map(|p| view! { <pre class="prompt">{p}</pre> }).collect_view()}
                    </div>
                })}
                <div class="row settings">
                    <label>"Shots " <input type="number" id="shots" data-testid="shots" min="0" max="5" prop:value=move || shots.get().to_string() on:input=move |ev| set_shots.set(event_target_value(&ev).parse().unwrap_or(0))/></label>
                    <label>"Limit " <input type="number" id="limit" data-testid="limit" min="1" prop:value=move || limit.get().map(|l| l.to_string()).unwrap_or_default() on:input=move |ev| set_limit.set(event_target_value(&ev).parse().ok())/></label>
                    <label>"Seed " <input type="number" id="seed" prop:value=move || seed.get().to_string() on:input=move |ev| set_seed.set(event_target_value(&ev).parse().unwrap_or(1234))/></label>
                    <label>"Max new tokens " <input type="number" id="max-new" min="1" placeholder="task default" on:input=move |ev| set_max_new.set(event_target_value(&ev).parse().ok())/></label>
                    <label><input type="checkbox" id="chat" on:change=move |ev| set_chat.set(event_target_checked(&ev))/>" chat template"</label>
                </div>
                <div class="row">
                    <button id="start" data-testid="run" on:click=start disabled=move || card.get().is_none() || running.get()>"Start"</button>
                    <Show when=move || running.get() && !paused.get()>
                        <button id="pause" data-testid="pause" on:click=move |_| send(&ToWorker::Pause, None)>"Pause"</button>
                    </Show>
                    <Show when=move || running.get() && paused.get()>
                        <button id="resume" on:click=move |_| { set_paused.set(false); send(&ToWorker::Resume, None) }>"Resume"</button>
                    </Show>
                    <Show when=move || running.get()>
                        <button id="cancel" on:click=move |_| send(&ToWorker::Cancel, None)>"Cancel"</button>
                    </Show>
                </div>
            </section>

            <section id="run">
                <h2>"Run"</h2>
                <progress id="progress" data-testid="progress" aria-label="Documents done" max=move || progress.get().1.max(1).to_string() value=move || progress.get().0.to_string()></progress>
                <p class="stats" id="stats">{move || {
                    let (done, total) = progress.get();
                    let elapsed = (now_ms() - started_at.get()) / 1000.0;
                    let eta = if done > 0 && done < total { format!(", about {:.0} s left", elapsed / done as f64 * (total - done) as f64) } else { String::new() };
                    let (p, d) = speed.get();
                    let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.1}"));
                    format!("{done} / {total} documents{eta} · prefill {} tok/s · decode {} tok/s", f(p), f(d))
                }}</p>
                <details open>
                    <summary>"Current document"</summary>
                    <Show when=move || !live_prompt.get().is_empty() fallback=|| view! { <p class="muted">"Nothing running."</p> }>
                        <pre class="prompt" id="live-prompt">{move || live_prompt.get()}</pre>
                    </Show>
                    <Show when=move || !live_text.get().is_empty()>
                        <pre class="generation" id="live-text">{move || live_text.get()}</pre>
                    </Show>
                    {move || probability_bars(live_probs.get())}
                </details>
            </section>

            <section id="results">
                <h2>"Results"</h2>
                <table id="results-table" data-testid="results">
                    <thead><tr><th>"task"</th><th>"metric"</th><th>"value"</th><th>"95% interval"</th><th>"n"</th><th>"unparsed"</th><th></th></tr></thead>
                    <tbody>
                        {move || results.get().into_iter().flat_map(|(r, _)| {
                            let spec = find_spec(&r.task);
                            // The task's headline score (its spec's first metric) carries the test hook.
                            let headline = r.headline(spec.as_ref()).map(|s| s.metric);
                            let metrics = spec.map_or_else(|| r.scores.iter().map(|s| s.metric).collect(), |s| s.metric_list());
                            metrics.into_iter().filter_map(|m| {
                                let score = r.score(m)?.clone();
                                let testid = (headline == Some(m)).then(|| format!("score-{}", r.task));
                                let ci = score.ci95.map_or_else(|| "-".to_string(), |[lo, hi]| format!("[{lo:.3}, {hi:.3}]"));
                                let (_, scale) = m.range();
                                let v = score.value;
                                Some(view! {
                                    <tr><td>{r.task.clone()}</td><td>{m.name()}</td><td data-testid=testid>{format!("{v:.4}")}</td><td>{ci}</td><td>{r.n}</td><td>{r.unparsed}</td>
                                    <td class="barcell"><meter class="bar" min="0" max="1" value=(v / scale).clamp(0.0, 1.0).to_string()></meter></td></tr>
                                })
                            }).collect::<Vec<_>>()
                        }).collect_view()}
                    </tbody>
                </table>
                <div class="row">
                    <button id="export-json" data-testid="export-json" on:click=export_json disabled=move || samples.get().is_empty()>"Export JSON"</button>
                    <button id="export-csv" on:click=export_csv disabled=move || samples.get().is_empty()>"Export CSV"</button>
                </div>
            </section>

            <section id="compare">
                <h2>"Compare with another run"</h2>
                <label>"A run exported as JSON, or a CLI run's results.json with its samples.jsonl " <input type="file" id="import-run" multiple accept=".json,.jsonl,application/json" on:change=import_run/></label>
                {move || import_notes.get().into_iter().map(|n| view! { <p class="muted">{n}</p> }).collect_view()}
                {move || comparisons().map(|(name, refused, result)| match result {
                    Ok((rows, unpaired)) => view! {
                        <p>{format!("{name} (a) against this page's run (b): documents paired by task and id; {unpaired} in one run only.")}</p>
                        {refused.into_iter().map(|(t, why)| view! { <p class="muted">{format!("{t}: not paired: {why}.")}</p> }).collect_view()}
                        <table id="compare-table">
                            <thead><tr><th>"task"</th><th>"metric"</th><th>"n"</th><th>"a"</th><th>"b"</th><th>"b - a"</th><th>"95% interval"</th><th>"p"</th><th>"test"</th></tr></thead>
                            <tbody>{rows.into_iter().map(|r| {
                                let c = r.comparison;
                                let ci = c.delta_ci95.map_or("-".to_string(), |[lo, hi]| format!("[{lo:.3}, {hi:.3}]"));
                                let test = match c.test { clinicbench::metrics::PairedTest::McnemarExact => "exact McNemar", clinicbench::metrics::PairedTest::PairedBootstrap => "paired bootstrap" };
                                view! { <tr><td>{r.task}</td><td>{c.metric.name()}</td><td>{c.n}</td><td>{format!("{:.4}", c.a)}</td><td>{format!("{:.4}", c.b)}</td><td>{format!("{:+.4}", c.delta)}</td><td>{ci}</td><td>{format!("{:.4}", c.p_value)}</td><td>{test}</td></tr> }
                            }).collect_view()}</tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                })}
            </section>

            <RunsSideBySide current=page_run set_error=set_error/>

            <ReviewWorkspace page_run=page_run set_error=set_error/>

            <section id="bench">
                <h2>"Speed"</h2>
                <div class="row">
                    <button id="run-bench" on:click=move |_| {
                        set_busy.set(true);
                        set_status.set("Measuring prefill and decode speed…".into());
                        send(&ToWorker::Bench { prompt_tokens: 128, gen_tokens: 32 }, None)
                    } disabled=move || card.get().is_none() || running.get() || busy.get()>"Measure speed (128-token prompt, 32 tokens)"</button>
                </div>
                {move || bench.get().map(|(backend, b)| view! {
                    <p id="bench-result">{format!(
                        "{backend}: prefill {:.1} tok/s, decode {:.1} tok/s ({:.1} MB of weights per token, {:.2} GB/s).",
                        b.prefill_tokens_per_second(),
                        b.decode_tokens_per_second(),
                        b.bytes_per_token as f64 / 1e6,
                        b.bytes_per_token as f64 * b.decode_tokens_per_second() / 1e9
                    )}</p>
                })}
                {move || match (peer.get(), bench.get()) {
                    (Some(Ok(p)), Some((_, ours))) => view! {
                        <p id="bench-peer" data-testid="bench-peer">{format!(
                            "{}, same file, same browser: prefill {:.1} tok/s ({} tokens), decode {:.1} tok/s ({} tokens). Ours against it: prefill {:.2}x, decode {:.2}x.",
                            p.peer, p.prefill_tok_s, p.prompt_tokens, p.decode_tok_s, p.gen_tokens,
                            ours.prefill_tokens_per_second() / p.prefill_tok_s,
                            ours.decode_tokens_per_second() / p.decode_tok_s
                        )}</p>
                    }.into_any(),
                    (Some(Err(e)), _) => view! { <p id="bench-peer" data-testid="bench-peer" class="error">{e}</p> }.into_any(),
                    _ => view! {
                        <p class="muted">"The benchmark build (scripts/build-bench-page.sh) also runs wllama, llama.cpp in WebAssembly, on the same file here and shows the ratio."</p>
                    }.into_any(),
                }}
            </section>

            <section id="samples">
                <h2>"Samples"</h2>
                <div class="row">
                    <select id="filter" aria-label="Which samples" on:change=move |ev| set_filter.set(event_target_value(&ev))>
                        <option value="all">"all"</option>
                        <option value="correct">"correct"</option>
                        <option value="wrong">"wrong"</option>
                        <option value="unparsed">"unparsed"</option>
                    </select>
                    <input type="search" id="search" aria-label="Search the samples" placeholder="search the prompts and answers" on:input=move |ev| set_search.set(event_target_value(&ev))/>
                </div>
                <ol class="sample-list" id="sample-list">
                    {move || filtered().into_iter().map(|s| {
                        let mark = match correctness(&s) { Some(true) => "✓", Some(false) => "✗", None => "·" };
                        let metrics = s.metrics.iter().map(|(k, v)| format!("{k} {v:.3}")).collect::<Vec<_>>().join(", ");
                        let probs = probabilities(&s);
                        view! {
                            <li class="sample" data-testid="sample">
                                <details>
                                    <summary>{format!("{mark} {} #{} — gold: {} · prediction: {}{}", s.task, s.doc_id, gold_text(&s), pred_text(&s), if s.unparsed { " (unparsed)" } else { "" })}</summary>
                                    <pre class="prompt">{s.prompt.clone()}</pre>
                                    {s.generation.clone().map(|g| view! { <pre class="generation">{g}</pre> })}
                                    {probability_bars(probs)}
                                    <p class="metrics">{metrics}</p>
                                </details>
                            </li>
                        }
                    }).collect_view()}
                </ol>
            </section>
        }
    }
}
