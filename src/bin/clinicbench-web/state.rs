//! What the page knows, owned by [`super::app::App`] and handed to each section through
//! context: the worker's answers land here, and sections read what they show from here and
//! write only what their controls change. A section's own settings (a filter, a URL being typed)
//! stay in the section.

use super::checkpoint::RunMeta;
use clinicbench::engine::Bench;
use clinicbench::model::card::ModelCard;
use clinicbench::report::{TaskProvenance, TaskResult};
use clinicbench::tasks::Sample;
use clinicbench::web::GpuReport;
use leptos::prelude::*;

/// The loaded model as the page shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    pub file_name: String,
    pub card: ModelCard,
    pub backend: String,
    pub backend_reason: String,
    pub sha256: String,
    pub chat_template_sha256: Option<String>,
    /// The worker's WebAssembly memory once the model is in.
    pub worker_memory: Option<u64>,
    /// The LoRA adapters applied over it.
    pub adapters: Vec<clinicbench::report::AdapterProvenance>,
}

/// A dataset file's first look, before a run: its name, format, records, bad rows and the first
/// prompts.
#[derive(Clone, Debug, PartialEq)]
pub struct Preview {
    pub file: String,
    pub format: String,
    pub records: usize,
    pub bad_rows: Vec<String>,
    pub first: Vec<String>,
}

/// A run a reload interrupted: its settings, its dataset file and the samples it finished.
pub type Interrupted = (RunMeta, Option<web_sys::Blob>, Vec<Sample>);

/// What the benchmark build's peer measured (`window.clinicbenchPeer`, see www/bench/).
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
pub struct PeerBench {
    pub peer: String,
    pub prompt_tokens: usize,
    pub gen_tokens: usize,
    pub prefill_tok_s: f64,
    pub decode_tok_s: f64,
}

/// The live view of the document being run: of documents generated together, the first of
/// the batch (their tokens arrive interleaved; the others' are not shown until their samples).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Live {
    /// The document shown, while its sample has not come.
    pub doc_id: Option<usize>,
    pub prompt: String,
    pub text: String,
    /// Documents started together with the one shown (1 when one at a time).
    pub together: usize,
    /// Each choice, its probability, and whether it is the gold one.
    pub probabilities: Vec<(String, f64, bool)>,
}

impl Live {
    /// A document's prompt: shown unless the document shown is still running.
    pub fn prompt(&mut self, doc_id: usize, prompt: String) {
        if self.doc_id.is_some() {
            self.together += 1;
            return;
        }
        *self = Live { doc_id: Some(doc_id), prompt, together: 1, ..Live::default() };
    }

    /// New text of a document: kept if it is the one shown.
    pub fn token(&mut self, doc_id: usize, text: &str) {
        if self.doc_id == Some(doc_id) {
            self.text.push_str(text);
        }
    }

    /// A document's sample came: the one shown keeps its text and shows its choices'
    /// probabilities, and the next prompt takes its place.
    pub fn finished(&mut self, doc_id: usize, probabilities: impl FnOnce() -> Vec<(String, f64, bool)>) {
        if self.doc_id == Some(doc_id) {
            self.probabilities = probabilities();
            self.doc_id = None;
        }
    }
}

/// The run's progress: documents done of total, speeds, when it started (ms, the page's clock).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    pub prefill_tok_s: Option<f64>,
    pub decode_tok_s: Option<f64>,
    pub started_ms: f64,
}

#[derive(Clone, Copy)]
pub struct Page {
    pub status: RwSignal<String>,
    pub error: RwSignal<Option<String>>,
    pub model: RwSignal<Option<Loaded>>,
    pub gpu: RwSignal<Option<GpuReport>>,
    /// The worker is loading a model or measuring speed.
    pub busy: RwSignal<bool>,
    pub running: RwSignal<bool>,
    pub paused: RwSignal<bool>,
    pub progress: RwSignal<Progress>,
    pub live: RwSignal<Live>,
    pub samples: RwSignal<Vec<Sample>>,
    pub results: RwSignal<Vec<(TaskResult, TaskProvenance)>>,
    /// The task selected, and the dataset file picked for it.
    pub task: RwSignal<String>,
    pub data_name: RwSignal<Option<String>>,
    pub preview: RwSignal<Option<Preview>>,
    pub current_run: RwSignal<Option<RunMeta>>,
    pub interrupted: RwSignal<Option<Interrupted>>,
    pub bench: RwSignal<Option<(String, Bench)>>,
    pub peer: RwSignal<Option<Result<PeerBench, String>>>,
    /// The loaded model's review of the open set, as a judge, and its progress while it judges.
    pub judged: RwSignal<Option<clinicbench::review::Review>>,
    pub judging: RwSignal<Option<(usize, usize)>>,
    /// What the service worker gives (offline, isolation) and whether a newer build waits.
    pub offline: RwSignal<super::offline::Offline>,
    /// The engine's CPU threads (the threaded build where the browser allows it).
    pub threads: RwSignal<super::threads::CpuThreads>,
    /// Why `?backend=` was not taken, if it was not.
    pub backend_note: StoredValue<Option<String>>,
}

impl Page {
    pub fn new(first_task: String, backend_note: Option<String>) -> Page {
        Page {
            status: RwSignal::new("Starting…".into()),
            error: RwSignal::new(None),
            model: RwSignal::new(None),
            gpu: RwSignal::new(None),
            busy: RwSignal::new(false),
            running: RwSignal::new(false),
            paused: RwSignal::new(false),
            progress: RwSignal::new(Progress::default()),
            live: RwSignal::new(Live::default()),
            samples: RwSignal::new(Vec::new()),
            results: RwSignal::new(Vec::new()),
            task: RwSignal::new(first_task),
            data_name: RwSignal::new(None),
            preview: RwSignal::new(None),
            current_run: RwSignal::new(None),
            interrupted: RwSignal::new(None),
            bench: RwSignal::new(None),
            peer: RwSignal::new(None),
            judged: RwSignal::new(None),
            judging: RwSignal::new(None),
            offline: RwSignal::new(Default::default()),
            threads: RwSignal::new(Default::default()),
            backend_note: StoredValue::new(backend_note),
        }
    }

    /// A failure to show; the status line keeps what was last done.
    pub fn fail(&self, message: impl Into<String>) {
        self.busy.set(false);
        self.error.set(Some(message.into()));
    }
}

/// The page's state, from any section.
pub fn page() -> Page {
    expect_context::<Page>()
}
