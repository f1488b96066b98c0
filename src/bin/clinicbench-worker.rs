//! The page's worker: a [`clinicbench::web::Session`] behind `postMessage`. Messages are JSON
//! strings (`ToWorker` in, `FromWorker` out); a model or dataset file comes beside the JSON as a
//! `File`. Between documents the run yields to the event loop, so Pause and Cancel are heard.
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
    worker::start();
}

#[cfg(target_arch = "wasm32")]
mod worker {
    use clinicbench::web::{FromWorker, Session, ToWorker};
    use std::cell::RefCell;
    use std::rc::Rc;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::{spawn_local, JsFuture};
    use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

    fn scope() -> DedicatedWorkerGlobalScope {
        js_sys::global().unchecked_into()
    }

    fn post(msg: &FromWorker) {
        // A message that cannot be serialized is a bug here, not in the user's input.
        let text = serde_json::to_string(msg).unwrap_or_else(|e| format!("{{\"kind\":\"error\",\"message\":\"{e}\"}}"));
        let _ = scope().post_message(&JsValue::from_str(&text));
    }

    /// Lets queued messages (Pause, Cancel) run before the next document.
    async fn yield_to_events() {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            let _ = scope().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
        });
        let _ = JsFuture::from(promise).await;
    }

    async fn bytes_of(blob: &web_sys::Blob) -> Result<Vec<u8>, String> {
        let buf = JsFuture::from(blob.array_buffer()).await.map_err(|e| format!("cannot read the file: {e:?}"))?;
        Ok(js_sys::Uint8Array::new(&buf).to_vec())
    }

    async fn fetch_bytes(url: &str) -> Result<Vec<u8>, String> {
        let resp = JsFuture::from(scope().fetch_with_str(url)).await.map_err(|e| format!("cannot fetch {url}: {e:?}"))?;
        let resp: web_sys::Response = resp.dyn_into().map_err(|_| format!("cannot fetch {url}"))?;
        if !resp.ok() {
            return Err(format!("{url}: HTTP {}", resp.status()));
        }
        let length = resp.headers().get("content-length").ok().flatten().and_then(|l| l.parse::<u64>().ok());
        if let Some(size) = length {
            clinicbench::web::check_browser_model_size(url, size)?;
        }
        let buf = JsFuture::from(resp.array_buffer().map_err(|e| format!("{e:?}"))?).await.map_err(|e| format!("{e:?}"))?;
        Ok(js_sys::Uint8Array::new(&buf).to_vec())
    }

    /// The browser's origin-private file system, where models are kept between visits.
    mod opfs {
        use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
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

        /// A kept file's bytes, or `None` when there is none by that name.
        pub async fn read(name: &str) -> Result<Option<Vec<u8>>, String> {
            let d = dir().await?;
            let Ok(handle) = call(&d, "getFileHandle", &Array::of1(&name.into())).await else { return Ok(None) };
            let file = call(&handle, "getFile", &Array::new()).await?;
            let buf = call(&file, "arrayBuffer", &Array::new()).await?;
            Ok(Some(Uint8Array::new(&buf).to_vec()))
        }

        pub async fn write(name: &str, bytes: &[u8]) -> Result<(), String> {
            let d = dir().await?;
            let opts = Object::new();
            Reflect::set(&opts, &"create".into(), &JsValue::TRUE).map_err(js_err)?;
            let handle = call(&d, "getFileHandle", &Array::of2(&name.into(), &opts)).await?;
            let writable = call(&handle, "createWritable", &Array::new()).await?;
            // Written in 8 MiB pieces so no second copy of the whole model is made in JS memory.
            for piece in bytes.chunks(8 << 20) {
                call(&writable, "write", &Array::of1(&Uint8Array::from(piece).into())).await?;
            }
            call(&writable, "close", &Array::new()).await.map(|_| ())
        }
    }

    fn backend_reason() -> &'static str {
        "the CPU backend runs in WebAssembly (SIMD128); the WebGPU kernels are checked beside it (see the GPU line)"
    }

    /// Models up to this size are also run once on WebGPU and compared with the CPU.
    const FORWARD_CHECK_BYTES: usize = 16 << 20;

    /// Opens the browser's WebGPU adapter, runs the kernels' self-check and, given a small
    /// model, its forward pass against the CPU, and posts the report.
    async fn gpu_report(model: Option<(String, Vec<u8>)>) {
        use clinicbench::backend::wgpu::{check, Gpu, GpuError, GpuOptions};
        use clinicbench::web::GpuReport;
        let mut report =
            GpuReport { adapter: None, software: false, kernels: vec![], forward_relative_error: None, forward_model: None, problem: None };
        let gpu = match Gpu::open(&GpuOptions::default()).await {
            Ok(g) => g,
            Err(GpuError::NoAdapter(why)) => {
                report.problem = Some(why);
                return post(&FromWorker::GpuReport(report));
            }
            Err(e) => {
                report.problem = Some(e.to_string());
                return post(&FromWorker::GpuReport(report));
            }
        };
        report.adapter = Some(gpu.describe());
        report.software = gpu.is_software();
        match check::check_kernels(&gpu).await {
            Ok(k) => report.kernels = k,
            Err(e) => report.problem = Some(format!("the kernel check failed: {e}")),
        }
        if let Some((name, bytes)) = model.filter(|(_, b)| b.len() <= FORWARD_CHECK_BYTES) {
            report.forward_model = Some(name);
            let compared = match clinicbench::gguf::Gguf::open(clinicbench::gguf::SliceSource(bytes)) {
                Ok(g) => check::compare_forward(gpu, &g).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match compared {
                Ok(e) => report.forward_relative_error = Some(e),
                Err(e) => report.problem = Some(format!("the model could not run on WebGPU: {e}")),
            }
        }
        post(&FromWorker::GpuReport(report));
    }

    /// Loads a model and, when it is small, checks its forward pass on WebGPU.
    async fn load_and_check(session: &Rc<RefCell<Session>>, name: &str, bytes: Vec<u8>, from: &str) {
        let copy = (bytes.len() <= FORWARD_CHECK_BYTES).then(|| (name.to_string(), bytes.clone()));
        let msg = with_source(session.borrow_mut().load_model(name, bytes, backend_reason()), from);
        let loaded = matches!(msg, FromWorker::ModelLoaded { .. });
        post(&msg);
        if loaded && copy.is_some() {
            gpu_report(copy).await;
        }
    }

    fn with_source(msg: FromWorker, from: &str) -> FromWorker {
        match msg {
            FromWorker::ModelLoaded { file_name, sha256, card, backend, backend_reason, .. } => {
                FromWorker::ModelLoaded { file_name, sha256, card, backend, backend_reason, source: from.into() }
            }
            other => other,
        }
    }

    /// Runs documents until the task ends, is paused or is cancelled.
    fn drive(session: Rc<RefCell<Session>>) {
        spawn_local(async move {
            loop {
                let more = session.borrow_mut().step(&mut |m| post(&m));
                if !more || !session.borrow().running() {
                    break;
                }
                yield_to_events().await;
            }
        });
    }

    async fn handle(session: Rc<RefCell<Session>>, msg: ToWorker, file: Option<web_sys::Blob>) {
        match msg {
            ToWorker::LoadKept { sha256 } => match opfs::read(&clinicbench::web::kept_model_name(&sha256)).await {
                Ok(Some(bytes)) => load_and_check(&session, "kept model", bytes, "browser storage").await,
                Ok(None) => post(&FromWorker::Error { message: "no model with that SHA-256 is kept in this browser".into() }),
                Err(message) => post(&FromWorker::Error { message }),
            },
            ToWorker::LoadModel { file_name, keep } => {
                let Some(file) = file else {
                    return post(&FromWorker::Error { message: "no model file came with the message".into() });
                };
                if let Err(message) = clinicbench::web::check_browser_model_size(&file_name, file.size() as u64) {
                    return post(&FromWorker::Error { message });
                }
                match bytes_of(&file).await {
                    Ok(bytes) => {
                        if keep {
                            let name = clinicbench::web::kept_model_name(&clinicbench::web::sha256_hex(&bytes));
                            if let Err(message) = opfs::write(&name, &bytes).await {
                                post(&FromWorker::Error { message: format!("{file_name} was not kept: {message}") });
                            }
                        }
                        load_and_check(&session, &file_name, bytes, "file").await
                    }
                    Err(message) => post(&FromWorker::Error { message }),
                }
            }
            ToWorker::LoadUrl { url } => {
                let name = url.rsplit('/').next().unwrap_or(&url).to_string();
                let kept = clinicbench::web::kept_url_name(&url);
                if let Ok(Some(bytes)) = opfs::read(&kept).await {
                    return load_and_check(&session, &name, bytes, "browser storage").await;
                }
                match fetch_bytes(&url).await {
                    Ok(bytes) => {
                        // Kept by URL for the next visit, and by content so a resumed run finds it.
                        let by_content = clinicbench::web::kept_model_name(&clinicbench::web::sha256_hex(&bytes));
                        let kept_ok = opfs::write(&kept, &bytes).await.and(opfs::write(&by_content, &bytes).await);
                        let copy = (bytes.len() <= FORWARD_CHECK_BYTES).then(|| (name.clone(), bytes.clone()));
                        let msg = with_source(session.borrow_mut().load_model(&name, bytes, backend_reason()), "url");
                        let loaded = matches!(msg, FromWorker::ModelLoaded { .. });
                        post(&msg);
                        if let Err(message) = kept_ok {
                            post(&FromWorker::Error { message: format!("{name} loaded but was not kept for the next visit: {message}") });
                        }
                        if loaded && copy.is_some() {
                            gpu_report(copy).await;
                        }
                    }
                    Err(message) => post(&FromWorker::Error { message }),
                }
            }
            ToWorker::Run(req) => {
                let data = match (&req.data_file, file) {
                    (Some(name), Some(f)) => match bytes_of(&f).await {
                        Ok(b) => Some((name.clone(), b)),
                        Err(message) => return post(&FromWorker::Error { message }),
                    },
                    _ => None,
                };
                let started = session.borrow_mut().start(&req, data.as_ref().map(|(n, b)| (n.as_str(), b.as_slice())));
                let ok = !matches!(started, FromWorker::Error { .. });
                post(&started);
                if ok {
                    drive(session);
                }
            }
            ToWorker::Pause => {
                if let Some(m) = session.borrow_mut().pause() {
                    post(&m);
                }
            }
            ToWorker::Resume => {
                session.borrow_mut().resume();
                drive(session);
            }
            ToWorker::Preview { task, data_file } => match file {
                Some(f) => match bytes_of(&f).await {
                    Ok(bytes) => post(&Session::preview(&task, &data_file, &bytes)),
                    Err(message) => post(&FromWorker::Error { message }),
                },
                None => post(&FromWorker::Error { message: "no dataset file came with the message".into() }),
            },
            ToWorker::Bench { prompt_tokens, gen_tokens } => post(&session.borrow_mut().bench(prompt_tokens, gen_tokens)),
            ToWorker::Cancel => {
                if let Some(m) = session.borrow_mut().cancel() {
                    post(&m);
                }
            }
        }
    }

    pub fn start() {
        let session = Rc::new(RefCell::new(Session::new()));
        let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            let data = ev.data();
            let json = js_sys::Reflect::get(&data, &"json".into()).ok().and_then(|v| v.as_string());
            let file = js_sys::Reflect::get(&data, &"file".into()).ok().and_then(|v| v.dyn_into::<web_sys::Blob>().ok());
            let msg = match json.as_deref().map(serde_json::from_str::<ToWorker>) {
                Some(Ok(m)) => m,
                Some(Err(e)) => return post(&FromWorker::Error { message: format!("bad message: {e}") }),
                None => return post(&FromWorker::Error { message: "bad message: no json".into() }),
            };
            spawn_local(handle(session.clone(), msg, file));
        });
        scope().set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        onmessage.forget();
        post(&FromWorker::Ready);
        spawn_local(gpu_report(None));
    }
}
