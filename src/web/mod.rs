//! The page's compute side, independent of the browser: the messages between the UI and the
//! worker ([`ToWorker`], [`FromWorker`], JSON over `postMessage`) and the [`Session`] that
//! answers them (a model, a task run advanced a step at a time: one document, or a batch of
//! documents generated together). The worker binary only moves messages and bytes between
//! JavaScript and a `Session`, so everything here is tested natively.

use crate::backend::cpu::CpuBackend;
use crate::backend::wgpu::{Gpu, WgpuBackend};
use crate::backend::Backend;
use crate::engine::{Engine as _, Interrupt, LocalEngine};
use crate::gguf::{ByteSource, Gguf};
use crate::model::card::{default_context, ModelCard};
use crate::model::lora::Adapter;
use crate::model::ModelConfig;
use crate::report::{DataFile, DatasetProvenance, TaskProvenance, TaskResult};
use crate::tasks::{self, Event, RunOptions, Sample, TaskRunner, TaskSpec};
use crate::tokenizer::Tokenizer;
use serde::{Deserialize, Serialize};

/// UI -> worker. Bytes (a model file, a dataset file) travel beside the message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ToWorker {
    /// The page's threaded build only, first of all: the page has started `threads` thread
    /// workers over this engine's module and memory; the engine makes them its CPU thread pool.
    Threads { threads: usize },
    /// The backend the page asks for (`?backend=`), sent before any model loads.
    ChooseBackend { backend: BackendChoice },
    /// Load the model whose bytes come with the message; `keep` also stores it in the
    /// browser's private file system (OPFS) so a later visit can load it without asking.
    LoadModel {
        file_name: String,
        #[serde(default)]
        keep: bool,
    },
    /// Fetch a model and load it: the demo model on the page's origin, or a URL the user typed.
    /// It is kept in OPFS, and a later load of the same URL reads it from there.
    LoadUrl { url: String },
    /// Load a model kept in OPFS, by its SHA-256.
    LoadKept { sha256: String },
    /// One file of a model split into parts (its bytes come with the message), held until
    /// `LoadModelParts`.
    ModelPart { file_name: String },
    /// Load the model whose parts came in `ModelPart` messages, in whatever order they were
    /// picked (a missing part is named).
    LoadModelParts,
    /// Apply the LoRA adapter whose bytes come with the message at `scale` (times its alpha /
    /// rank, as llama.cpp), beside those already chosen: the loaded model is reloaded with
    /// them, and every model loaded later gets them too.
    AddAdapter { file_name: String, scale: f32 },
    /// Drop every adapter (the loaded model is reloaded without them).
    ClearAdapters,
    /// Run a task; a dataset file may come with the message (else the task's built-in data).
    Run(RunRequest),
    /// Stop the running task after the current document; its samples so far are kept.
    Cancel,
    /// Hold the running task after the current document.
    Pause,
    /// Go on with a held task.
    Resume,
    /// Read a dataset file for a task and describe it (format, record count, first prompts)
    /// before anything runs.
    Preview { task: String, data_file: String },
    /// Measure the loaded model's prefill and decode speed.
    Bench { prompt_tokens: usize, gen_tokens: usize },
    /// The loaded model rates a review set's outputs as one more rater (see
    /// [`crate::review::judge`]); `rater` is the pseudonym its review carries.
    Judge { set: Box<crate::review::ReviewSet>, rater: String, now: String },
}

/// What to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRequest {
    pub task: String,
    /// The dataset file's name, when one comes with the message.
    #[serde(default)]
    pub data_file: Option<String>,
    #[serde(default)]
    pub shots: usize,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default)]
    pub max_new_tokens: Option<usize>,
    #[serde(default)]
    pub chat_template: bool,
    /// Samples of an earlier, interrupted run of this task to keep (a reload resumes).
    #[serde(default)]
    pub previous: Vec<Sample>,
    /// Generation tasks: documents generated together on the CPU (`None`: [`PAGE_BATCH`]; 1:
    /// one at a time). On the GPU, one at a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<usize>,
}

/// Documents a generation task generates together on the page's CPU backend unless asked
/// otherwise (the CLI's default too). Pause and Cancel interrupt a batch between two steps of
/// the model ([`Session::set_interrupt`]), so a larger batch costs no waiting.
pub const PAGE_BATCH: usize = 16;

fn default_seed() -> u64 {
    1234
}

/// The backend the page asks for: `?backend=cpu|webgpu`, or nothing for the page's own choice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// WebGPU on a hardware adapter whose kernels agree with the CPU, else the CPU.
    #[default]
    Auto,
    Cpu,
    Webgpu,
}

impl BackendChoice {
    /// Reads the value of `?backend=`; an unknown value is an error that says what is allowed.
    pub fn from_query(value: Option<&str>) -> Result<BackendChoice, String> {
        match value {
            None | Some("") | Some("auto") => Ok(BackendChoice::Auto),
            Some("cpu") => Ok(BackendChoice::Cpu),
            Some("webgpu") => Ok(BackendChoice::Webgpu),
            Some(other) => Err(format!("?backend={other} is not a backend (cpu or webgpu); the page chooses one itself")),
        }
    }
}

/// Where a model runs in the page and why, for the model card.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub webgpu: bool,
    pub reason: String,
}

/// Chooses the backend for the next model from what the page asked for and what the WebGPU
/// check found (`None`: it has not run). A software adapter (SwiftShader, lavapipe, WARP) runs
/// these kernels far slower than WebAssembly SIMD, so the page's own choice is then the CPU.
pub fn place_model(choice: BackendChoice, report: Option<&GpuReport>) -> Placement {
    let cpu = |reason: String| Placement { webgpu: false, reason };
    let adapter = report.and_then(|r| r.adapter.as_deref());
    match (choice, adapter) {
        (BackendChoice::Cpu, _) => cpu("?backend=cpu asked for the CPU backend (WebAssembly SIMD)".into()),
        (_, None) => {
            let why = report.and_then(|r| r.problem.as_deref()).unwrap_or("the browser offers no WebGPU adapter");
            cpu(format!("no WebGPU adapter ({why}), so the CPU backend (WebAssembly SIMD) runs it"))
        }
        (BackendChoice::Webgpu, Some(name)) => {
            let caveat = match report {
                Some(r) if !r.ok() => " although its kernel check did not pass (see the GPU line)",
                Some(r) if r.software => ", a software adapter, slower than the CPU backend",
                _ => "",
            };
            Placement { webgpu: true, reason: format!("?backend=webgpu asked for WebGPU: {name}{caveat}") }
        }
        (BackendChoice::Auto, Some(name)) => match report {
            Some(r) if r.software => cpu(format!(
                "{name} is a software adapter, slower than WebAssembly SIMD, so the CPU backend runs it (?backend=webgpu forces WebGPU)"
            )),
            Some(r) if !r.ok() => cpu(format!("the WebGPU kernels did not agree with the CPU on {name} (see the GPU line), so the CPU backend runs it")),
            _ => Placement { webgpu: true, reason: format!("WebGPU on {name}: its kernels agree with the CPU's") },
        },
    }
}

/// Worker -> UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FromWorker {
    /// The worker is up.
    Ready,
    /// The threaded build's pool is running, with this many threads.
    Threads { threads: usize },
    ModelLoaded {
        file_name: String,
        sha256: String,
        card: ModelCard,
        backend: String,
        backend_reason: String,
        /// Where the bytes came from: `file`, `url`, or `browser storage` (OPFS).
        #[serde(default)]
        source: String,
        /// The worker's WebAssembly memory once the model is loaded (on WebGPU it holds no
        /// weights); `None` natively.
        #[serde(default)]
        memory_bytes: Option<u64>,
        /// SHA-256 of the model's chat template, if it has one (for the report's provenance).
        #[serde(default)]
        chat_template_sha256: Option<String>,
        /// The LoRA adapters applied over it.
        #[serde(default)]
        adapters: Vec<crate::report::AdapterProvenance>,
    },
    /// A task started: how many documents, from which data.
    Started { task: String, total: usize, records: usize, format: String, bad_rows: Vec<String> },
    Prompt { task: String, doc_id: usize, prompt: String },
    Token { task: String, doc_id: usize, text: String },
    /// A finished document, with the run's progress and speed so far.
    Sample { sample: Sample, done: usize, total: usize, prefill_tokens_per_second: Option<f64>, decode_tokens_per_second: Option<f64> },
    /// The task's results and how they were obtained (the page's report gathers them).
    Finished { task: String, result: crate::report::TaskResult, provenance: crate::report::TaskProvenance, skipped: Vec<String> },
    Paused { task: String },
    Cancelled { task: String, done: usize },
    /// The engine's speed on the loaded model, and the prompt it prefilled as text (the
    /// benchmark build gives a peer the same text).
    Bench {
        backend: String,
        result: crate::engine::Bench,
        #[serde(default)]
        prompt: String,
    },
    Preview { task: String, data_file: String, format: String, records: usize, bad_rows: Vec<String>, first: Vec<String> },
    /// The judge has rated `done` of `total` items.
    Judging { done: usize, total: usize },
    /// The judge's review of a set.
    Judged { review: Box<crate::review::Review> },
    /// What the browser's WebGPU adapter made of the GPU kernels' self-check.
    GpuReport(GpuReport),
    Error { message: String },
}

/// The GPU kernels run on the browser's WebGPU adapter against the CPU reference: every block
/// format's products and, for a small loaded model, its whole forward pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuReport {
    /// The adapter (`SwiftShader Device (Vulkan)`); `None` when the browser has none.
    pub adapter: Option<String>,
    /// A software adapter (SwiftShader, WARP): slower than the CPU backend.
    pub software: bool,
    pub kernels: Vec<crate::backend::wgpu::check::FormatCheck>,
    /// The CPU backend's own kernels (WebAssembly SIMD in the page) against the float64
    /// reference, checked whether or not there is an adapter.
    #[serde(default)]
    pub cpu_kernels: Vec<crate::backend::wgpu::check::FormatCheck>,
    /// Whether the top-k selection agreed with the CPU's (`None`: not run).
    #[serde(default)]
    pub top_k_agrees: Option<bool>,
    /// A small loaded model's logits on WebGPU against the CPU backend's, relative to the
    /// largest, and the model's file name.
    pub forward_relative_error: Option<f64>,
    #[serde(default)]
    pub forward_model: Option<String>,
    /// Why there is no adapter, or what failed.
    pub problem: Option<String>,
}

/// The bar for [`GpuReport::forward_relative_error`].
pub const MAX_FORWARD_RELATIVE_ERROR: f64 = 1e-4;

impl GpuReport {
    /// The report without its forward-pass result, once another model is loaded.
    pub fn for_model(mut self, file_name: &str) -> GpuReport {
        if self.forward_model.as_deref() != Some(file_name) {
            self.forward_relative_error = None;
            self.forward_model = None;
        }
        self
    }

    /// Whether everything that ran agreed with the CPU.
    pub fn ok(&self) -> bool {
        self.problem.is_none()
            && self.adapter.is_some()
            && !self.kernels.is_empty()
            && self.kernels.iter().all(|k| k.ok)
            && self.top_k_agrees != Some(false)
            && self.forward_relative_error.is_none_or(|e| e <= MAX_FORWARD_RELATIVE_ERROR)
    }

    /// One paragraph for people: what ran on the adapter and how it compared with the CPU.
    pub fn summary(&self) -> String {
        match self.cpu_kernel_summary() {
            Some(cpu) => format!("{} {cpu}", self.gpu_summary()),
            None => self.gpu_summary(),
        }
    }

    /// The CPU kernels' check in one sentence, when it ran.
    pub fn cpu_kernel_summary(&self) -> Option<String> {
        if self.cpu_kernels.is_empty() {
            return None;
        }
        let passed = self.cpu_kernels.iter().filter(|k| k.ok).count();
        let worst = self.cpu_kernels.iter().map(|k| k.max_relative_error).fold(0f64, f64::max);
        let failed: Vec<&str> = self.cpu_kernels.iter().filter(|k| !k.ok).map(|k| k.format.as_str()).collect();
        let mut s = format!(
            "CPU kernel check: {passed} of {} block formats agree with the reference (worst relative error {worst:.1e}",
            self.cpu_kernels.len()
        );
        if !failed.is_empty() {
            s += &format!("; failed: {}", failed.join(", "));
        }
        Some(s + ").")
    }

    fn gpu_summary(&self) -> String {
        let Some(adapter) = &self.adapter else {
            return format!(
                "No WebGPU adapter ({}): models run on the CPU backend (WebAssembly SIMD).",
                self.problem.as_deref().unwrap_or("the browser offers no WebGPU adapter")
            );
        };
        let kind = if self.software { ", a software adapter" } else { "" };
        let mut s = format!("WebGPU: {adapter}{kind}. ");
        if !self.kernels.is_empty() {
            let passed = self.kernels.iter().filter(|k| k.ok).count();
            let worst = self.kernels.iter().map(|k| k.max_relative_error).fold(0f64, f64::max);
            s += &format!(
                "Kernel check: {passed} of {} block formats agree with the CPU (worst relative error {worst:.1e}",
                self.kernels.len()
            );
            let failed: Vec<&str> = self.kernels.iter().filter(|k| !k.ok).map(|k| k.format.as_str()).collect();
            if !failed.is_empty() {
                s += &format!("; failed: {}", failed.join(", "));
            }
            s += "). ";
        }
        match self.top_k_agrees {
            Some(true) => s += "Top-k selection agrees with the CPU. ",
            Some(false) => s += "Top-k selection DIFFERS from the CPU. ",
            None => {}
        }
        if let Some(e) = self.forward_relative_error {
            let verdict = if e <= MAX_FORWARD_RELATIVE_ERROR { "agree with" } else { "DIFFER from" };
            let model = self.forward_model.as_deref().unwrap_or("the model");
            s += &format!("The logits of {model} on WebGPU {verdict} the CPU's (relative error {e:.1e}). ");
        }
        if let Some(p) = &self.problem {
            s += &format!("{p}. ");
        }
        if self.software {
            s += "A software adapter is slower than WebAssembly SIMD. ";
        }
        s.trim_end().to_string()
    }
}

/// A model and the task running on it.
#[derive(Default)]
pub struct Session {
    engine: Option<LocalEngine<Box<dyn Backend>>>,
    runner: Option<TaskRunner>,
    /// The running task's provenance, its data's bad rows, and when it started (seconds on the
    /// engine's clock).
    running_task: Option<(crate::report::TaskProvenance, usize, f64)>,
    paused: bool,
    /// Asked between the steps of documents generated together (the worker's: whether Pause or
    /// Cancel came), given to each engine loaded.
    interrupt: Option<Interrupt>,
}

/// The largest model file the CPU backend takes in the browser: the file is read tensor by
/// tensor, but the backend holds every weight, its KV cache and the program within
/// WebAssembly's 4 GiB. On WebGPU the weights go to the GPU and wasm memory holds none of them.
pub const MAX_BROWSER_MODEL_BYTES: u64 = 3 << 30;

/// Whether a model file of `size` bytes can load in the browser on the chosen backend, said
/// before reading it.
pub fn check_browser_model_size(file_name: &str, size: u64, webgpu: bool) -> Result<(), String> {
    if !webgpu && size > MAX_BROWSER_MODEL_BYTES {
        return Err(format!(
            "{file_name} is {:.2} GiB; the CPU backend in the browser holds its weights in WebAssembly's 4 GiB, \
             which takes files up to {:.1} GiB. Use a browser with WebGPU (the weights then go to the GPU), a more \
             quantized model, or the clinicbench command line.",
            size as f64 / (1u64 << 30) as f64,
            MAX_BROWSER_MODEL_BYTES as f64 / (1u64 << 30) as f64
        ));
    }
    Ok(())
}

/// The OPFS file name a model fetched from `url` is kept under.
pub fn kept_url_name(url: &str) -> String {
    format!("url-{}.gguf", &sha256_hex(url.as_bytes())[..24])
}

/// The OPFS file name a model with this SHA-256 is kept under.
pub fn kept_model_name(sha256: &str) -> String {
    // The SHA-256 comes back from the page's storage: take characters, not bytes, and only hex.
    let prefix: String = sha256.chars().filter(char::is_ascii_hexdigit).take(24).collect();
    format!("model-{prefix}.gguf")
}

/// A LoRA adapter file for [`Session::load_model_adapted`], and the scale it is applied at.
pub struct AdapterSource<A> {
    pub file_name: String,
    pub sha256: String,
    pub source: A,
    pub scale: f32,
}

/// What the page knows of its loaded model, for the report's provenance.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedModel {
    pub file_name: String,
    pub sha256: String,
    pub card: ModelCard,
    /// The backend, as `ModelLoaded` described it.
    pub backend: String,
    /// SHA-256 of its chat template, if it has one.
    pub chat_template_sha256: Option<String>,
    /// The LoRA adapters loaded over it.
    pub adapters: Vec<crate::report::AdapterProvenance>,
}

/// The page's run as the one report type the CLI writes: the tasks' results and provenance as
/// the worker finished them (a later run of a task replaces an earlier one), the loaded model,
/// the browser as host, and the samples of those tasks.
pub fn page_report(
    model: Option<&LoadedModel>,
    results: &[(TaskResult, TaskProvenance)],
    samples: &[Sample],
    host: crate::report::Host,
    unix_seconds: u64,
) -> crate::report::RunReport {
    use crate::report::{ModelProvenance, Provenance, RunReport, Timings};
    let mut report = RunReport::default();
    for (result, provenance) in results {
        report.set_task(result.clone(), Some(provenance.clone()));
    }
    report.provenance = Provenance {
        model: model.map_or_else(ModelProvenance::default, |m| ModelProvenance {
            file: m.file_name.clone(),
            sha256: m.sha256.clone(),
            name: m.card.name.clone(),
            architecture: Some(m.card.architecture.clone()),
            parameters: Some(m.card.parameters),
            quantization: m.card.quantization.clone(),
            // Recorded when a task used it.
            chat_template_sha256: m.chat_template_sha256.clone().filter(|_| results.iter().any(|(_, p)| p.chat_template)),
            adapters: m.adapters.clone(),
        }),
        tasks: std::mem::take(&mut report.provenance.tasks),
        backend: model.map(|m| m.backend.clone()).unwrap_or_default(),
        engine_version: env!("CARGO_PKG_VERSION").into(),
        timings: Timings { seconds: report.results.iter().filter_map(|r| r.seconds).sum(), ..Timings::default() },
        host,
        created: Some(crate::report::utc_timestamp(unix_seconds)),
    };
    let tasks: Vec<&str> = report.results.iter().map(|r| r.task.as_str()).collect();
    let mut kept: Vec<Sample> = samples.iter().filter(|s| tasks.contains(&s.task.as_str())).cloned().collect();
    // Task by task in the order they ran, each in document order (as the CLI writes them).
    kept.sort_by_key(|s| (tasks.iter().position(|t| *t == s.task), s.doc_id));
    report.samples = kept;
    report
}

/// SHA-256 of bytes, in hex (how a resumed run checks it has the same model).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(bytes))
}

/// SHA-256 of a source read 16 MiB at a time: a model file is never whole in memory.
pub fn sha256_of<S: ByteSource>(source: &S) -> std::io::Result<String> {
    sha256_of_parts(std::slice::from_ref(source))
}

/// SHA-256 of the parts of a split model one after another (what the CLI records for one).
pub fn sha256_of_parts<S: ByteSource>(parts: &[S]) -> std::io::Result<String> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 16 << 20];
    for source in parts {
        let mut offset = 0u64;
        while offset < source.len() {
            let n = (buf.len() as u64).min(source.len() - offset) as usize;
            source.read_at(offset, &mut buf[..n])?;
            hasher.update(&buf[..n]);
            offset += n as u64;
        }
    }
    Ok(hex(&hasher.finalize()))
}

/// The files of a split model picked together, in part order (`split.no`), or a message that
/// says what is missing or wrong: which part by its file name (gguf-split's
/// `NAME-0000k-of-0000N.gguf`), a file that is no part, or two files claiming one part. One
/// file is returned as it is (a split model's first part alone is then refused when opened).
pub fn order_parts<S: ByteSource>(files: Vec<(String, S)>) -> Result<Vec<(String, S)>, String> {
    if files.len() <= 1 {
        return Ok(files);
    }
    let mut numbered = Vec::with_capacity(files.len());
    let mut count = None;
    for (name, source) in files {
        let part = Gguf::open(&source).map_err(|e| format!("{name}: {e}")).and_then(|g| crate::gguf::split::part_of(&g).map_err(|e| format!("{name}: {e}")))?;
        let Some((no, n)) = part else {
            return Err(format!("{name} is not a part of a split model (no split.count), and several files were given"));
        };
        match count {
            None => count = Some(n),
            Some(c) if c != n => return Err(format!("{name} is a part of {n}, another file a part of {c}: parts of two models?")),
            Some(_) => {}
        }
        numbered.push((no, name, source));
    }
    numbered.sort_by_key(|(no, _, _)| *no);
    let count = count.unwrap_or(0);
    if let Some(w) = numbered.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!("{} and {} both say they are part {} of {count}", w[0].1, w[1].1, w[0].0 + 1));
    }
    let first = numbered.iter().find(|(no, _, _)| *no == 0).map(|(_, name, _)| name.clone());
    for k in 0..count {
        if !numbered.iter().any(|(no, _, _)| *no == k) {
            let wanted = first.as_deref().and_then(|f| crate::gguf::split::part_name(f, k + 1, count));
            return Err(match wanted {
                Some(file) => format!("part {} of {count} of the model is missing: {file}", k + 1),
                None => format!("part {} of {count} of the model is missing", k + 1),
            });
        }
    }
    Ok(numbered.into_iter().map(|(_, name, source)| (name, source)).collect())
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn rate(tokens: u64, seconds: f64) -> Option<f64> {
    (seconds > 0.0).then(|| tokens as f64 / seconds)
}

impl Session {
    pub fn new() -> Session {
        Session::default()
    }

    /// What documents generated together ask between their steps whether to stop: a step so
    /// interrupted sends nothing and its documents run again in the next.
    pub fn set_interrupt(&mut self, interrupt: Interrupt) {
        if let Some(engine) = self.engine.as_mut() {
            engine.set_interrupt(Some(interrupt.clone()));
        }
        self.interrupt = Some(interrupt);
    }

    /// Loads a model from `source` (read tensor by tensor, never whole): onto `gpu` when one is
    /// given, else into the CPU backend. A model that does not fit is refused before its
    /// weights are allocated; an error the GPU raises while loading is reported, not hidden.
    pub async fn load_model<S: ByteSource>(
        &mut self,
        file_name: &str,
        sha256: &str,
        source: S,
        gpu: Option<Gpu>,
        backend_reason: &str,
    ) -> FromWorker {
        self.load_model_adapted::<S, S>(file_name, sha256, vec![source], &[], gpu, backend_reason).await
    }

    /// [`Session::load_model`] for a model in one file or split into `parts` (in order, see
    /// [`order_parts`]), with LoRA adapters applied over it.
    pub async fn load_model_adapted<S: ByteSource, A: ByteSource>(
        &mut self,
        file_name: &str,
        sha256: &str,
        parts: Vec<S>,
        adapters: &[AdapterSource<A>],
        gpu: Option<Gpu>,
        backend_reason: &str,
    ) -> FromWorker {
        self.engine = None;
        self.runner = None;
        self.running_task = None;
        let fail = |e: &dyn std::fmt::Display| FromWorker::Error { message: format!("{file_name}: {e}") };
        let g = match Gguf::open_parts(parts) {
            Ok(g) => g,
            Err(e) => return fail(&e),
        };
        let card = ModelCard::from_gguf(&g);
        let config = match ModelConfig::from_gguf(&g) {
            Ok(c) => c,
            Err(e) => return fail(&e),
        };
        let tokenizer = match Tokenizer::from_gguf(&g) {
            Ok(t) => t,
            Err(e) => return fail(&format!("the tokenizer: {e}")),
        };
        let n_ctx = default_context(&config);
        let mut adapter_files = Vec::with_capacity(adapters.len());
        let mut provenance = Vec::with_capacity(adapters.len());
        for a in adapters {
            let opened = match Gguf::open(&a.source) {
                Ok(opened) => opened,
                Err(e) => return fail(&format!("LoRA adapter {}: {e}", a.file_name)),
            };
            provenance.push(crate::report::AdapterProvenance {
                file: a.file_name.clone(),
                sha256: a.sha256.clone(),
                scale: a.scale,
                alpha: opened.get_f32("adapter.lora.alpha").ok(),
                name: opened.get("general.name").and_then(|v| v.as_str()).map(str::to_string),
            });
            adapter_files.push((opened, a.scale));
        }
        let with: Vec<Adapter<&A>> = adapter_files.iter().map(|(gguf, scale)| Adapter { gguf, scale: *scale }).collect();
        let backend: Box<dyn Backend> = match gpu {
            Some(gpu) => {
                let loaded = match WgpuBackend::load_adapted_on(gpu, &g, n_ctx, &with) {
                    Ok(b) => b,
                    Err(e) => return fail(&format!("loading it onto the GPU: {e}")),
                };
                // Allocation failures and a lost device surface only once the queue has run.
                if let Err(e) = loaded.synchronize().await {
                    return fail(&format!("loading it onto the GPU: {e}"));
                }
                Box::new(loaded)
            }
            None => match CpuBackend::load_adapted(&g, n_ctx, &with) {
                Ok(b) => Box::new(b),
                Err(e) => return fail(&e),
            },
        };
        let described = backend.describe();
        let chat_template_sha256 = tokenizer.chat_template().map(|t| sha256_hex(t.as_bytes()));
        let mut engine = LocalEngine::new(tokenizer, backend);
        engine.set_interrupt(self.interrupt.clone());
        self.engine = Some(engine);
        FromWorker::ModelLoaded {
            file_name: file_name.into(),
            sha256: sha256.into(),
            card,
            backend: described,
            backend_reason: backend_reason.into(),
            source: String::new(),
            memory_bytes: None,
            chat_template_sha256,
            adapters: provenance,
        }
    }

    /// Whether a model is loaded.
    pub fn has_model(&self) -> bool {
        self.engine.is_some()
    }

    /// Whether a task is running (started, not finished or cancelled).
    pub fn running(&self) -> bool {
        self.runner.is_some() && !self.paused
    }

    /// Starts a task: a built-in task by name, its data from `data` (a file's name and bytes)
    /// or, for the demo sets, the crate's own.
    pub fn start(&mut self, req: &RunRequest, data: Option<(&str, &[u8])>) -> FromWorker {
        let data_arg = data;
        if self.engine.is_none() {
            return FromWorker::Error { message: "load a model first".into() };
        }
        let Some(spec) = tasks::spec::find(&req.task) else {
            return FromWorker::Error { message: tasks::TaskError::UnknownTask(req.task.clone()).to_string() };
        };
        let needed = tasks::documents_needed(&RunOptions { shots: req.shots, limit: req.limit, ..RunOptions::default() });
        let loaded = match data {
            Some((name, bytes)) => tasks::load_bytes_up_to(&spec, name, bytes, needed),
            None if spec.is_builtin_data() => tasks::load_data(&spec, std::path::Path::new(""), None),
            None => return FromWorker::Error { message: format!("{}: choose its dataset file ({})", spec.name, spec.path) },
        };
        let data = match loaded {
            Ok(d) => d,
            Err(e) => return FromWorker::Error { message: e.to_string() },
        };
        // The data as provenance: a picked file by its name and its bytes' SHA-256, a demo set
        // by its built-in path.
        let files = match data_arg {
            Some((name, bytes)) => vec![DataFile { path: name.into(), sha256: sha256_hex(bytes) }],
            None => match data.files.iter().map(|f| Ok(DataFile { path: f.display().to_string(), sha256: sha256_hex(&tasks::read_data_file(f)?) })).collect() {
                Ok(f) => f,
                Err(e) => return FromWorker::Error { message: tasks::TaskError::to_string(&e) },
            },
        };
        let dataset = DatasetProvenance { importer: spec.importer.clone(), format: data.format.clone(), files, records: data.docs.len() };
        let bad_rows = data.bad_rows.len();
        let started = FromWorker::Started {
            task: spec.name.clone(),
            total: req.limit.map_or(data.docs.len(), |l| l.min(data.docs.len())),
            records: data.docs.len(),
            format: data.format.clone(),
            bad_rows: data.bad_rows.iter().map(|b| b.to_string()).collect(),
        };
        let opts = RunOptions {
            shots: req.shots,
            limit: req.limit,
            seed: req.seed,
            previous: req.previous.clone(),
            chat_template: req.chat_template,
            max_new_tokens: req.max_new_tokens,
            shard: None,
            sample: None,
            // Pause and Cancel are heard between steps: a step is one document, or a batch of
            // generated ones where the backend runs them side by side.
            batch: if self.engine.as_ref().is_some_and(|e| e.generates_together()) { req.batch.unwrap_or(PAGE_BATCH).clamp(1, 64) } else { 1 },
        };
        let provenance = TaskProvenance::new(&spec, dataset, &opts);
        if req.chat_template && self.engine.as_ref().is_some_and(|e| e.tokenizer().chat_template().is_none()) {
            return FromWorker::Error { message: "this model has no chat template".into() };
        }
        match TaskRunner::new(spec, data, opts) {
            Ok(r) => {
                self.runner = Some(r);
                self.running_task = Some((provenance, bad_rows, crate::engine::now()));
                self.paused = false;
                started
            }
            Err(e) => FromWorker::Error { message: e.to_string() },
        }
    }

    /// Runs the next document of the running task, sending what happens to `out`. Returns
    /// whether there is more to do.
    pub async fn step(&mut self, out: &mut dyn FnMut(FromWorker)) -> bool {
        if self.paused {
            return false;
        }
        let (Some(engine), Some(runner)) = (self.engine.as_mut(), self.runner.as_mut()) else { return false };
        let task = runner.spec().name.clone();
        let total = runner.total();
        let mut samples = Vec::new();
        let result = runner
            .step(engine, &mut |event| match event {
                Event::Prompt { doc_id, prompt } => out(FromWorker::Prompt { task: task.clone(), doc_id, prompt: prompt.into() }),
                Event::Token { doc_id, text } => out(FromWorker::Token { task: task.clone(), doc_id, text: text.into() }),
                Event::Sample(s) => samples.push(s.clone()),
            })
            .await;
        match result {
            Ok(true) => {
                // A batch's samples, in order, each with the count done once it was.
                let done = runner.done() - samples.len();
                for (i, sample) in samples.into_iter().enumerate() {
                    let st = &engine.stats;
                    out(FromWorker::Sample {
                        sample,
                        done: done + i + 1,
                        total,
                        prefill_tokens_per_second: rate(st.prefill_tokens, st.prefill_seconds),
                        decode_tokens_per_second: rate(st.decode_tokens, st.decode_seconds),
                    });
                }
                true
            }
            Ok(false) => {
                let runner = self.runner.take().expect("checked above");
                let spec = runner.spec().clone();
                let (provenance, bad_rows, t0) = self.running_task.take().unwrap_or_default();
                match runner.finish() {
                    Ok(run) => {
                        let result = TaskResult::from_run(&spec, &run, bad_rows, Some(crate::engine::now() - t0));
                        out(FromWorker::Finished { task, result, provenance, skipped: run.skipped })
                    }
                    Err(e) => out(FromWorker::Error { message: e.to_string() }),
                }
                false
            }
            // Interrupted in the middle of a batch: nothing of it was kept, and the runner takes
            // its documents again (Pause and Cancel are heard before that).
            Err(tasks::TaskError::Engine { error: crate::engine::EngineError::Cancelled, .. }) => true,
            Err(e) => {
                self.runner = None;
                self.running_task = None;
                out(FromWorker::Error { message: e.to_string() });
                false
            }
        }
    }

    /// What a dataset file holds for a task: its format, record count, bad rows and the
    /// prompts of its first three documents.
    pub fn preview(task: &str, data_file: &str, bytes: &[u8]) -> FromWorker {
        let Some(spec) = tasks::spec::find(task) else {
            return FromWorker::Error { message: tasks::TaskError::UnknownTask(task.into()).to_string() };
        };
        let data = match tasks::load_bytes(&spec, data_file, bytes) {
            Ok(d) => d,
            Err(e) => return FromWorker::Error { message: e.to_string() },
        };
        let first = match tasks::Prompter::new(&spec) {
            Ok(p) => data.docs.iter().take(3).enumerate().map(|(i, d)| p.context(d, i, &[]).unwrap_or_else(|e| e.to_string())).collect(),
            Err(e) => vec![e.to_string()],
        };
        FromWorker::Preview {
            task: task.into(),
            data_file: data_file.into(),
            format: data.format,
            records: data.docs.len(),
            bad_rows: data.bad_rows.iter().map(|b| b.to_string()).collect(),
            first,
        }
    }

    /// Measures the loaded model's speed (not while a task runs).
    pub async fn bench(&mut self, prompt_tokens: usize, gen_tokens: usize) -> FromWorker {
        if self.runner.is_some() {
            return FromWorker::Error { message: "a task is running; measure speed when it is done".into() };
        }
        let Some(engine) = self.engine.as_mut() else { return FromWorker::Error { message: "load a model first".into() } };
        let tokenizer = engine.tokenizer();
        let ids: Vec<u32> = engine.bench_prompt(prompt_tokens).into_iter().filter(|&id| Some(id) != tokenizer.bos()).collect();
        let prompt = tokenizer.decode(&ids);
        match engine.bench(prompt_tokens, gen_tokens).await {
            Ok(result) => FromWorker::Bench { backend: engine.backend().describe(), result, prompt },
            Err(e) => FromWorker::Error { message: e.to_string() },
        }
    }

    /// The loaded model rates a review set (not while a task runs): `on_item` hears each item
    /// rated; the answer is the judge's review.
    pub async fn judge(&mut self, set: &crate::review::ReviewSet, rater: &str, now: &str, on_item: &mut dyn FnMut(FromWorker)) -> FromWorker {
        if self.runner.is_some() {
            return FromWorker::Error { message: "a task is running; let the model judge when it is done".into() };
        }
        let Some(engine) = self.engine.as_mut() else { return FromWorker::Error { message: "load a model first".into() } };
        match crate::review::judge::judge(engine, set, rater, now, &mut |done, total| on_item(FromWorker::Judging { done, total })).await {
            Ok(review) => FromWorker::Judged { review: Box::new(review) },
            Err(e) => FromWorker::Error { message: format!("the judge: {e}") },
        }
    }

    pub fn pause(&mut self) -> Option<FromWorker> {
        let task = self.runner.as_ref()?.spec().name.clone();
        self.paused = true;
        Some(FromWorker::Paused { task })
    }

    pub fn resume(&mut self) {
        self.paused = false;
    }

    pub fn cancel(&mut self) -> Option<FromWorker> {
        let runner = self.runner.take()?;
        self.running_task = None;
        self.paused = false;
        Some(FromWorker::Cancelled { task: runner.spec().name.clone(), done: runner.done() })
    }

    /// The tasks the page offers: every built-in one.
    pub fn tasks() -> Vec<TaskSpec> {
        tasks::spec::builtin()
    }
}
