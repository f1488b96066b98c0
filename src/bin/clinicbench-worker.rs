//! The page's worker: a [`clinicbench::web::Session`] behind `postMessage`. Messages are
//! JavaScript values made by serde-wasm-bindgen (`ToWorker` in, `FromWorker` out); a model or
//! dataset file comes beside the message as a `File`. One loop handles the messages in order
//! and, while a task runs, a step (one document, or a batch of documents generated together)
//! between them. Pause and Cancel are heard after the current document, or between two steps of
//! the model in a batch (which then runs again from its start: nothing is kept half done).
//!
//! A model is read from its `File` (or the browser's copy of a fetched one) a piece at a time,
//! never whole: onto the GPU through WebGPU, or into the CPU backend.
//!
//! The only network request it makes is `fetch` of a model URL the page was given (the demo
//! model on the page's own origin, or a URL the user typed).

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("clinicbench-worker is the page's WebAssembly worker: build the page with `trunk build`");
}

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    // In the threaded build every thread worker instantiates this same program over the same
    // memory, and instantiating runs `main`: only the engine's worker serves the page.
    #[cfg(target_feature = "atomics")]
    if threads::is_thread_worker() {
        return;
    }
    worker::start();
}

#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
#[path = "clinicbench-worker/threads.rs"]
mod threads;

#[cfg(target_arch = "wasm32")]
mod worker {
    use clinicbench::backend::wgpu::{check, Gpu, GpuOptions};
    use clinicbench::gguf::ByteSource;
    use clinicbench::web::{self, BackendChoice, FromWorker, GpuReport, Session, ToWorker};
    use futures_channel::mpsc::{unbounded, TryRecvError, UnboundedReceiver};
    use futures_util::StreamExt;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::{spawn_local, JsFuture};
    use web_sys::{Blob, DedicatedWorkerGlobalScope, MessageEvent};

    fn scope() -> DedicatedWorkerGlobalScope {
        js_sys::global().unchecked_into()
    }

    fn post(msg: &FromWorker) {
        use serde::Serialize;
        // A message that cannot be serialized is a bug here, not in the user's input: it is
        // said as an error rather than lost.
        let value = msg.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap_or_else(|e| {
            let error = FromWorker::Error { message: format!("a message from the worker could not be sent: {e}") };
            error.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap_or(JsValue::NULL)
        });
        let _ = scope().post_message(&value);
    }

    fn error(message: impl Into<String>) {
        post(&FromWorker::Error { message: message.into() })
    }

    /// Lets queued messages (Pause, Cancel) arrive before the next document.
    async fn yield_to_events() {
        gloo_timers::future::TimeoutFuture::new(0).await;
    }

    thread_local! {
        /// A Pause or Cancel came and is not handled yet.
        static STOP_ASKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// The engine's question between the steps of documents generated together: it lets
    /// messages arrive (a timer's turn, a few milliseconds: at most every 100 ms of work) and
    /// says whether a Pause or Cancel came.
    fn interrupt() -> clinicbench::engine::Interrupt {
        let last = std::rc::Rc::new(std::cell::Cell::new(js_sys::Date::now()));
        std::rc::Rc::new(move || {
            let last = last.clone();
            Box::pin(async move {
                if js_sys::Date::now() - last.get() >= 100.0 {
                    yield_to_events().await;
                    last.set(js_sys::Date::now());
                }
                STOP_ASKED.with(|s| s.get())
            })
        })
    }

    /// A `Blob` (a picked file, a fetched or kept model) read by offset with the worker's
    /// synchronous `FileReaderSync`: only the pieces asked for come into wasm memory.
    struct BlobSource {
        blob: Blob,
        reader: web_sys::FileReaderSync,
    }

    impl BlobSource {
        fn new(blob: Blob) -> Result<BlobSource, String> {
            let reader = web_sys::FileReaderSync::new().map_err(|e| format!("this browser cannot read files in a worker: {e:?}"))?;
            Ok(BlobSource { blob, reader })
        }
    }

    impl ByteSource for BlobSource {
        fn len(&self) -> u64 {
            self.blob.size() as u64
        }
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
            let end = offset.checked_add(buf.len() as u64).filter(|&e| e <= self.len());
            let Some(end) = end else {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "read past the end of the file"));
            };
            let read = self
                .blob
                .slice_with_f64_and_f64(offset as f64, end as f64)
                .and_then(|piece| self.reader.read_as_array_buffer(&piece))
                .map_err(|e| std::io::Error::other(format!("cannot read the file: {e:?}")))?;
            js_sys::Uint8Array::new(&read).copy_to(buf);
            Ok(())
        }
    }

    /// SHA-256 of a blob, read a piece at a time.
    fn sha256_of_blob(blob: &Blob) -> Result<String, String> {
        let source = BlobSource::new(blob.clone())?;
        web::sha256_of(&source).map_err(|e| e.to_string())
    }

    async fn bytes_of(blob: &Blob) -> Result<Vec<u8>, String> {
        let buf = JsFuture::from(blob.array_buffer()).await.map_err(|e| format!("cannot read the file: {e:?}"))?;
        Ok(js_sys::Uint8Array::new(&buf).to_vec())
    }

    /// Fetches a model as a `Blob`: the browser holds the bytes (on disk when large), not wasm.
    async fn fetch_blob(url: &str, webgpu: bool) -> Result<Blob, String> {
        let resp = JsFuture::from(scope().fetch_with_str(url)).await.map_err(|e| format!("cannot fetch {url}: {e:?}"))?;
        let resp: web_sys::Response = resp.dyn_into().map_err(|_| format!("cannot fetch {url}"))?;
        if !resp.ok() {
            return Err(format!("{url}: HTTP {}", resp.status()));
        }
        let length = resp.headers().get("content-length").ok().flatten().and_then(|l| l.parse::<u64>().ok());
        if let Some(size) = length {
            web::check_browser_model_size(url, size, webgpu)?;
        }
        let blob = JsFuture::from(resp.blob().map_err(|e| format!("{e:?}"))?).await.map_err(|e| format!("cannot fetch {url}: {e:?}"))?;
        blob.dyn_into().map_err(|_| format!("cannot fetch {url}"))
    }

    /// The browser's origin-private file system, where models are kept between visits.
    mod opfs {
        use js_sys::{Array, Function, Object, Promise, Reflect};
        use wasm_bindgen::prelude::*;
        use wasm_bindgen::JsCast;
        use wasm_bindgen_futures::JsFuture;

        fn js_err(e: JsValue) -> String {
            format!("browser storage: {e:?}")
        }

        async fn call(obj: &JsValue, method: &str, args: &Array) -> Result<JsValue, String> {
            let f: Function = Reflect::get(obj, &method.into()).map_err(js_err)?.dyn_into().map_err(js_err)?;
            let p: Promise = f.apply(obj, args).map_err(js_err)?.dyn_into().map_err(js_err)?;
            JsFuture::from(p).await.map_err(js_err)
        }

        async fn dir() -> Result<JsValue, String> {
            let nav = Reflect::get(&js_sys::global(), &"navigator".into()).map_err(js_err)?;
            let storage = Reflect::get(&nav, &"storage".into()).map_err(js_err)?;
            if storage.is_undefined() {
                return Err("browser storage is not available".into());
            }
            call(&storage, "getDirectory", &Array::new()).await
        }

        /// A kept file, or `None` when there is none by that name.
        pub async fn file(name: &str) -> Result<Option<web_sys::Blob>, String> {
            let d = dir().await?;
            let Ok(handle) = call(&d, "getFileHandle", &Array::of1(&name.into())).await else { return Ok(None) };
            let file = call(&handle, "getFile", &Array::new()).await?;
            Ok(file.dyn_into().ok())
        }

        /// Keeps a blob under `name`, streamed from the browser's copy to disk (never through
        /// wasm memory).
        pub async fn write(name: &str, blob: &web_sys::Blob) -> Result<(), String> {
            let d = dir().await?;
            let opts = Object::new();
            Reflect::set(&opts, &"create".into(), &JsValue::TRUE).map_err(js_err)?;
            let handle = call(&d, "getFileHandle", &Array::of2(&name.into(), &opts)).await?;
            let writable = call(&handle, "createWritable", &Array::new()).await?;
            // pipeTo closes the file when the stream ends.
            call(&blob.stream().into(), "pipeTo", &Array::of1(&writable)).await.map(|_| ())
        }
    }

    /// Opens the browser's WebGPU adapter. wgpu names it by `adapter.info.description`, which
    /// browsers often leave empty; the vendor and architecture they do give name it then.
    async fn open_gpu() -> Result<Gpu, clinicbench::backend::wgpu::GpuError> {
        let mut gpu = Gpu::open(&GpuOptions::default()).await?;
        if gpu.info.name.is_empty() {
            if let Some(label) = adapter_label().await {
                gpu.info.name = label;
            }
        }
        Ok(gpu)
    }

    /// `vendor architecture` from `navigator.gpu.requestAdapter()`'s `info`, when given.
    async fn adapter_label() -> Option<String> {
        use js_sys::Reflect;
        let nav = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
        let gpu = Reflect::get(&nav, &"gpu".into()).ok().filter(|g| g.is_object())?;
        let request: js_sys::Function = Reflect::get(&gpu, &"requestAdapter".into()).ok()?.dyn_into().ok()?;
        let promise: js_sys::Promise = request.call0(&gpu).ok()?.dyn_into().ok()?;
        let adapter = JsFuture::from(promise).await.ok().filter(|a| a.is_object())?;
        let info = Reflect::get(&adapter, &"info".into()).ok().filter(|i| i.is_object())?;
        let field = |k: &str| Reflect::get(&info, &k.into()).ok().and_then(|v| v.as_string()).filter(|v| !v.is_empty());
        let parts: Vec<String> = ["vendor", "architecture"].iter().filter_map(|k| field(k)).collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    /// The size of this worker's WebAssembly memory (it only grows; in the threaded build it is
    /// a SharedArrayBuffer, shared with the thread workers).
    fn wasm_memory_bytes() -> Option<u64> {
        let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().dyn_into().ok()?;
        js_sys::Reflect::get(&memory.buffer(), &"byteLength".into()).ok()?.as_f64().map(|b| b as u64)
    }

    /// Models up to this size are also run once on WebGPU and compared with the CPU.
    const FORWARD_CHECK_BYTES: f64 = (16 << 20) as f64;

    /// Opens the browser's WebGPU adapter and runs the kernels' self-check (once, when the worker
    /// starts).
    async fn gpu_report() -> GpuReport {
        let mut report =
            GpuReport { adapter: None, software: false, kernels: vec![], forward_relative_error: None, forward_model: None, problem: None, top_k_agrees: None, cpu_kernels: vec![] };
        // The WebAssembly kernels are checked here, where they run (a few milliseconds).
        report.cpu_kernels = clinicbench::backend::cpu::check::check_kernels();
        let gpu = match open_gpu().await {
            Ok(g) => g,
            Err(clinicbench::backend::wgpu::GpuError::NoAdapter(why)) => {
                report.problem = Some(why);
                return report;
            }
            Err(e) => {
                report.problem = Some(e.to_string());
                return report;
            }
        };
        report.adapter = Some(gpu.describe());
        report.software = gpu.is_software();
        match check::check_kernels(&gpu).await {
            Ok(k) => report.kernels = k,
            Err(e) => report.problem = Some(format!("the kernel check failed: {e}")),
        }
        match check::check_top_k(&gpu).await {
            Ok(None) => report.top_k_agrees = Some(true),
            Ok(Some(difference)) => {
                report.top_k_agrees = Some(false);
                report.problem = Some(difference);
            }
            Err(e) => report.problem = Some(format!("the top-k check failed: {e}")),
        }
        report
    }

    /// The start-up `report` with a small model's forward pass on WebGPU against the CPU added.
    /// The kernels and the top-k selection were checked at start on the same adapter, so only
    /// the forward pass runs (the whole check again took ~25 s a model on SwiftShader).
    async fn with_forward_check(mut report: GpuReport, name: String, bytes: Vec<u8>) -> GpuReport {
        report.forward_model = Some(name);
        report.forward_relative_error = None;
        let compared = match (open_gpu().await, clinicbench::gguf::Gguf::open(clinicbench::gguf::SliceSource(bytes))) {
            (Ok(gpu), Ok(g)) => check::compare_forward(gpu, &g).await.map_err(|e| e.to_string()),
            (Err(e), _) => Err(e.to_string()),
            (_, Err(e)) => Err(e.to_string()),
        };
        match compared {
            Ok(e) => report.forward_relative_error = Some(e),
            Err(e) => report.problem = Some(format!("the model could not run on WebGPU: {e}")),
        }
        report
    }

    /// The worker's state: the session, the backend the page asked for, what WebGPU showed.
    struct Worker {
        session: Session,
        choice: BackendChoice,
        report: Option<GpuReport>,
        /// The report of the start-up check, which each small model's forward check extends.
        startup_report: Option<GpuReport>,
        /// The LoRA adapters chosen, applied to every model loaded: name, bytes, SHA-256, scale.
        adapters: Vec<(String, Blob, String, f32)>,
        /// The model last loaded (name, bytes of each part, SHA-256, where from), reloaded when
        /// the adapters change.
        model: Option<(String, Vec<Blob>, String, String)>,
        /// The parts of a split model picked together, until they are all here.
        parts: Vec<(String, Blob)>,
    }

    impl Worker {
        /// Loads a model from `blob` on the backend `place_model` chooses. `sha256` when the
        /// caller has it already.
        async fn load(&mut self, name: &str, blobs: Vec<Blob>, sha256: Option<String>, from: &str) {
            let mut placement = web::place_model(self.choice, self.report.as_ref());
            let size: f64 = blobs.iter().map(Blob::size).sum();
            if let Err(message) = web::check_browser_model_size(name, size as u64, placement.webgpu) {
                return error(message);
            }
            // A small model in one file is also run once on WebGPU against the CPU (below).
            let single = (blobs.len() == 1).then(|| blobs[0].clone()).filter(|b| b.size() <= FORWARD_CHECK_BYTES);
            let mut sources = Vec::with_capacity(blobs.len());
            for blob in &blobs {
                match BlobSource::new(blob.clone()) {
                    Ok(s) => sources.push(s),
                    Err(message) => return error(message),
                }
            }
            let sha256 = match sha256.map_or_else(|| web::sha256_of_parts(&sources).map_err(|e| e.to_string()), Ok) {
                Ok(s) => s,
                Err(e) => return error(format!("{name}: {e}")),
            };
            let gpu = if placement.webgpu {
                match open_gpu().await {
                    Ok(g) => Some(g),
                    Err(e) => {
                        placement = web::Placement { webgpu: false, reason: format!("WebGPU could not open a device ({e}), so the CPU backend runs it") };
                        None
                    }
                }
            } else {
                None
            };
            let mut adapters = Vec::with_capacity(self.adapters.len());
            for (file_name, blob, sha256, scale) in &self.adapters {
                match BlobSource::new(blob.clone()) {
                    Ok(source) => adapters.push(web::AdapterSource { file_name: file_name.clone(), sha256: sha256.clone(), source, scale: *scale }),
                    Err(message) => return error(message),
                }
            }
            self.model = Some((name.to_string(), blobs, sha256.clone(), from.to_string()));
            let mut msg = self.session.load_model_adapted(name, &sha256, sources, &adapters, gpu, &placement.reason).await;
            if let FromWorker::ModelLoaded { source, memory_bytes, .. } = &mut msg {
                *source = from.into();
                *memory_bytes = wasm_memory_bytes();
            }
            let loaded = matches!(msg, FromWorker::ModelLoaded { .. });
            post(&msg);
            // A small model's whole forward pass on this adapter against the CPU.
            let checked = self.startup_report.clone().filter(|r| r.adapter.is_some());
            if let (Some(blob), Some(checked)) = (single.filter(|_| loaded), checked) {
                if let Ok(bytes) = bytes_of(&blob).await {
                    let report = with_forward_check(checked, name.to_string(), bytes).await;
                    post(&FromWorker::GpuReport(report.clone()));
                    self.report = Some(report);
                }
            }
        }

        /// Loads the last model again (with the adapters as they are now), if there is one.
        async fn reload(&mut self) {
            if let Some((name, blobs, sha256, from)) = self.model.clone() {
                self.load(&name, blobs, Some(sha256), &from).await;
            }
        }

        async fn handle(&mut self, msg: ToWorker, file: Option<Blob>) {
            if matches!(msg, ToWorker::Pause | ToWorker::Cancel | ToWorker::Resume | ToWorker::Run(_)) {
                STOP_ASKED.with(|s| s.set(false));
            }
            match msg {
                #[cfg(target_feature = "atomics")]
                ToWorker::Threads { threads } => match super::threads::build(threads) {
                    Ok(threads) => post(&FromWorker::Threads { threads }),
                    Err(message) => error(message),
                },
                #[cfg(not(target_feature = "atomics"))]
                ToWorker::Threads { .. } => error("this build of the engine runs on one thread"),
                ToWorker::ChooseBackend { backend } => self.choice = backend,
                ToWorker::LoadKept { sha256 } => match opfs::file(&web::kept_model_name(&sha256)).await {
                    Ok(Some(blob)) => self.load("kept model", vec![blob], None, "browser storage").await,
                    Ok(None) => error("no model with that SHA-256 is kept in this browser"),
                    Err(message) => error(message),
                },
                ToWorker::LoadModel { file_name, keep } => {
                    let Some(file) = file else { return error("no model file came with the message") };
                    let mut sha256 = None;
                    if keep {
                        match sha256_of_blob(&file) {
                            Ok(sha) => {
                                if let Err(message) = opfs::write(&web::kept_model_name(&sha), &file).await {
                                    error(format!("{file_name} was not kept: {message}"));
                                }
                                sha256 = Some(sha);
                            }
                            Err(message) => return error(format!("{file_name}: {message}")),
                        }
                    }
                    self.load(&file_name, vec![file], sha256, "file").await
                }
                ToWorker::ModelPart { file_name } => match file {
                    Some(file) => self.parts.push((file_name, file)),
                    None => error("no model part came with the message"),
                },
                ToWorker::LoadModelParts => {
                    let mut picked = Vec::with_capacity(self.parts.len());
                    for (name, blob) in std::mem::take(&mut self.parts) {
                        match BlobSource::new(blob.clone()) {
                            Ok(source) => picked.push((name, (blob, source))),
                            Err(message) => return error(message),
                        }
                    }
                    // Ordered by what each part says it is; the sources go, the blobs stay.
                    let peek: Vec<(String, &BlobSource)> = picked.iter().map(|(n, (_, s))| (n.clone(), s)).collect();
                    let order = match web::order_parts(peek) {
                        Ok(o) => o.into_iter().map(|(n, _)| n).collect::<Vec<_>>(),
                        Err(message) => return error(message),
                    };
                    let blobs: Vec<Blob> = order.iter().filter_map(|n| picked.iter().find(|(p, _)| p == n).map(|(_, (b, _))| b.clone())).collect();
                    self.load(&order[0], blobs, None, "file").await
                }
                ToWorker::AddAdapter { file_name, scale } => {
                    let Some(file) = file else { return error("no adapter file came with the message") };
                    let sha256 = match sha256_of_blob(&file) {
                        Ok(sha) => sha,
                        Err(message) => return error(format!("{file_name}: {message}")),
                    };
                    self.adapters.push((file_name, file, sha256, scale));
                    let had_model = self.session.has_model();
                    self.reload().await;
                    // Refused (its error is out): the model goes back to what it was, without it.
                    if had_model && !self.session.has_model() {
                        self.adapters.pop();
                        self.reload().await;
                    }
                }
                ToWorker::ClearAdapters => {
                    self.adapters.clear();
                    self.reload().await;
                }
                ToWorker::LoadUrl { url } => {
                    let name = url.rsplit('/').next().unwrap_or(&url).to_string();
                    let kept = web::kept_url_name(&url);
                    if let Ok(Some(blob)) = opfs::file(&kept).await {
                        return self.load(&name, vec![blob], None, "browser storage").await;
                    }
                    let webgpu = web::place_model(self.choice, self.report.as_ref()).webgpu;
                    let blob = match fetch_blob(&url, webgpu).await {
                        Ok(b) => b,
                        Err(message) => return error(message),
                    };
                    let sha256 = match sha256_of_blob(&blob) {
                        Ok(s) => s,
                        Err(message) => return error(format!("{name}: {message}")),
                    };
                    // Kept by URL for the next visit, and by content so a resumed run finds it.
                    let kept_ok = match opfs::write(&kept, &blob).await {
                        Ok(()) => opfs::write(&web::kept_model_name(&sha256), &blob).await,
                        Err(e) => Err(e),
                    };
                    self.load(&name, vec![blob], Some(sha256), "url").await;
                    if let Err(message) = kept_ok {
                        error(format!("{name} loaded but was not kept for the next visit: {message}"));
                    }
                }
                ToWorker::Run(req) => {
                    let data = match (&req.data_file, file) {
                        (Some(name), Some(f)) => match bytes_of(&f).await {
                            Ok(b) => Some((name.clone(), b)),
                            Err(message) => return error(message),
                        },
                        _ => None,
                    };
                    post(&self.session.start(&req, data.as_ref().map(|(n, b)| (n.as_str(), b.as_slice()))));
                }
                ToWorker::Pause => {
                    if let Some(m) = self.session.pause() {
                        post(&m);
                    }
                }
                ToWorker::Resume => self.session.resume(),
                ToWorker::Preview { task, data_file } => match file {
                    Some(f) => match bytes_of(&f).await {
                        Ok(bytes) => post(&Session::preview(&task, &data_file, &bytes)),
                        Err(message) => error(message),
                    },
                    None => error("no dataset file came with the message"),
                },
                ToWorker::Bench { prompt_tokens, gen_tokens } => post(&self.session.bench(prompt_tokens, gen_tokens).await),
                ToWorker::Judge { set, rater, now } => post(&self.session.judge(&set, &rater, &now, &mut |m| post(&m)).await),
                ToWorker::Cancel => {
                    if let Some(m) = self.session.cancel() {
                        post(&m);
                    }
                }
            }
        }
    }

    /// The worker's one loop: the GPU check first, then messages in order; while a task runs,
    /// a document whenever no message waits.
    async fn serve(mut inbox: UnboundedReceiver<(ToWorker, Option<Blob>)>) {
        let mut session = Session::new();
        session.set_interrupt(interrupt());
        let mut w = Worker { session, choice: BackendChoice::Auto, report: None, startup_report: None, adapters: Vec::new(), model: None, parts: Vec::new() };
        let report = gpu_report().await;
        post(&FromWorker::GpuReport(report.clone()));
        w.startup_report = Some(report.clone());
        w.report = Some(report);
        loop {
            let next = if w.session.running() {
                match inbox.try_recv() {
                    Ok(m) => Some(m),
                    Err(TryRecvError::Closed) => return,
                    Err(TryRecvError::Empty) => None,
                }
            } else {
                match inbox.next().await {
                    Some(m) => Some(m),
                    None => return,
                }
            };
            match next {
                Some((msg, file)) => w.handle(msg, file).await,
                None => {
                    w.session.step(&mut |m| post(&m)).await;
                    yield_to_events().await;
                }
            }
        }
    }

    pub fn start() {
        let (outbox, inbox) = unbounded();
        let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            let data = ev.data();
            let msg = js_sys::Reflect::get(&data, &"msg".into()).unwrap_or(JsValue::UNDEFINED);
            let file = js_sys::Reflect::get(&data, &"file".into()).ok().and_then(|v| v.dyn_into::<Blob>().ok());
            match serde_wasm_bindgen::from_value::<ToWorker>(msg) {
                Ok(m) => {
                    if matches!(m, ToWorker::Pause | ToWorker::Cancel) {
                        STOP_ASKED.with(|s| s.set(true));
                    }
                    let _ = outbox.unbounded_send((m, file));
                }
                Err(e) => error(format!("bad message: {e}")),
            }
        });
        scope().set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        onmessage.forget();
        // The threaded build offers the page what a thread worker needs (before `Ready`, so the
        // page's answer, `Threads`, comes before anything it queued).
        #[cfg(target_feature = "atomics")]
        let _ = scope().post_message(&super::threads::offer());
        post(&FromWorker::Ready);
        spawn_local(serve(inbox));
    }
}
