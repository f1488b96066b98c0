//! `clinicbench`: the native command line over the same core the page runs.
//!
//! Every request command reads JSON lines on stdin and writes one JSON line per input line, in
//! order; a bad line gets `{"error": ...}` in its place and the run goes on. `score` reads
//! `{"prediction", "reference"}` lines and writes one JSON object for the whole input; its bad
//! lines are reported on stderr and the rest are scored. Exit status: 0 all well, 1 some lines
//! failed, 2 bad usage or an unreadable model.

#[path = "clinicbench/eval.rs"]
mod eval;
#[path = "clinicbench/plan.rs"]
mod plan;
#[path = "clinicbench/report.rs"]
mod report;
#[path = "clinicbench/review.rs"]
mod review;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use clinicbench::backend::cpu::CpuBackend;
use clinicbench::backend::wgpu::{Gpu, GpuError, GpuOptions, KvCache, WgpuBackend};
use clinicbench::backend::Backend;
use clinicbench::engine::{wait, Engine, GenerateRequest, LocalEngine, LogLikelihoodRequest, Sampling};
use clinicbench::gguf::{split, FileSource, Gguf, SplitSource};
use clinicbench::metrics::{Metric, MetricError, ScoreOptions, Scorer};
use clinicbench::model::lora::Adapter;
use clinicbench::model::ModelConfig;
use clinicbench::tokenizer::Tokenizer;
use serde::Deserialize;
use serde_json::{json, Value};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "clinicbench", version, about = "Evaluate medical language models on your own device")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Token ids of each JSON string on stdin, BOS included when the model says so.
    Tokenize(ModelArgs),
    /// Log-probability of each {"context", "continuation"} on stdin (lm-evaluation-harness rules).
    Loglikelihood(RunArgs),
    /// Generate text for each {"prompt", "stop"?} on stdin.
    Generate(GenerateArgs),
    /// Describe a model file: architecture, size, quantization, memory.
    Inspect {
        #[command(flatten)]
        model: ModelArgs,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Measure prefill and decode speed; prints one JSON line.
    Bench(BenchArgs),
    /// Answer a few demo questions with a model (the README's main command).
    Demo(RunArgs),
    /// Run ClinicBench tasks on a model; writes results.json and samples.jsonl.
    Eval(eval::EvalArgs),
    /// List the tasks: scenario, metrics, expected data layout, licence.
    Tasks,
    /// Compare two eval runs document by document (McNemar for accuracy, paired bootstrap
    /// otherwise); prints one JSON line per task and metric.
    Compare(eval::CompareArgs),
    /// Write a plan of models × tasks × shards for a scheduler (a Kubernetes Indexed Job, a
    /// Slurm job array); each job is `eval --plan FILE`.
    Plan(plan::PlanArgs),
    /// Many runs side by side, as the paper's tables: tasks by scenario, intervals, and paired
    /// tests against a baseline with Holm's correction (md, csv, json or self-contained html).
    Report(report::ReportArgs),
    /// Clinician review: build a blinded review set from runs, and the results of the ratings.
    #[command(subcommand)]
    Review(review::ReviewCommand),
    /// Merge the shards of a run (`eval --shard i/n`) into one run, equal to the unsharded one.
    Merge(eval::MergeArgs),
    /// Score {"prediction", "reference"} JSON lines on stdin; prints one JSON object
    /// {"metric", "value", "n", "stderr", "ci95"}.
    Score(ScoreArgs),
}

#[derive(Args)]
struct ModelArgs {
    /// Path to a GGUF model file.
    #[arg(long, short)]
    model: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum BackendKind {
    /// wgpu on a hardware GPU adapter, else the CPU (a software adapter such as lavapipe
    /// runs these kernels far slower than the CPU backend).
    Auto,
    Cpu,
    /// wgpu (Vulkan, Metal or DX12) on the best adapter, software or not.
    Wgpu,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    engine: EngineArgs,
}

/// Where and how a model runs.
#[derive(Args, Clone)]
struct EngineArgs {
    #[arg(long, value_enum, default_value = "auto")]
    backend: BackendKind,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// KV cache size in tokens (default: the model's training context, at most 4096).
    #[arg(long)]
    ctx_size: Option<usize>,
    /// On a GPU, run the kernels that need no optional feature (no subgroups), as WebGPU in a
    /// browser does, even where the adapter offers more.
    #[arg(long)]
    portable_kernels: bool,
    /// The GPU's KV cache type: f32 (exact against the CPU backend) or f16 (half the memory,
    /// llama.cpp's default; needs an adapter with shader-f16).
    #[arg(long, value_enum, default_value = "f32")]
    kv_cache: KvCacheArg,
    /// Apply a LoRA adapter (GGUF, as llama.cpp's convert_lora_to_gguf.py writes it) over the
    /// model, at scale 1; repeatable. The update is scaled by alpha / rank, as llama.cpp does.
    #[arg(long = "lora", value_name = "FILE")]
    lora: Vec<PathBuf>,
    /// Apply a LoRA adapter at SCALE (times alpha / rank); repeatable.
    #[arg(long = "lora-scaled", num_args = 2, value_names = ["FILE", "SCALE"])]
    lora_scaled: Vec<String>,
}

impl EngineArgs {
    /// The adapters asked for, `--lora` ones first, each with its scale.
    fn adapters(&self) -> Result<Vec<(PathBuf, f32)>> {
        let mut out: Vec<(PathBuf, f32)> = self.lora.iter().map(|p| (p.clone(), 1.0)).collect();
        for pair in self.lora_scaled.chunks(2) {
            let [file, scale] = pair else { bail!("--lora-scaled takes a file and a scale") };
            let value: f32 = scale.parse().ok().filter(|v: &f32| v.is_finite()).with_context(|| format!("--lora-scaled {file} {scale}: the scale is not a number"))?;
            out.push((PathBuf::from(file), value));
        }
        Ok(out)
    }
}

/// What a report records of each adapter: the file, its SHA-256, the scale, alpha, its name.
fn adapter_provenance(e: &EngineArgs) -> Result<Vec<clinicbench::report::AdapterProvenance>> {
    e.adapters()?
        .into_iter()
        .map(|(path, scale)| {
            let src = FileSource::open(&path).with_context(|| format!("cannot open LoRA adapter {}", path.display()))?;
            let g = Gguf::open(src).with_context(|| format!("cannot read LoRA adapter {}", path.display()))?;
            Ok(clinicbench::report::AdapterProvenance {
                file: path.display().to_string(),
                sha256: eval::sha256_file(&path)?,
                scale,
                alpha: g.get_f32("adapter.lora.alpha").ok(),
                name: g.get("general.name").and_then(|v| v.as_str()).map(str::to_string),
            })
        })
        .collect()
}

/// The adapters' files, open, each with its scale; notes the tensors llama.cpp and we skip.
fn open_adapters(e: &EngineArgs) -> Result<Vec<(Gguf<FileSource>, f32)>> {
    e.adapters()?
        .into_iter()
        .map(|(path, scale)| {
            let src = FileSource::open(&path).with_context(|| format!("cannot open LoRA adapter {}", path.display()))?;
            let g = Gguf::open(src).with_context(|| format!("cannot read LoRA adapter {}", path.display()))?;
            let skipped = clinicbench::model::lora::skipped_tensors(&g);
            let is_adapter = g.get("general.type").and_then(|v| v.as_str()) == Some("adapter");
            if is_adapter && !skipped.is_empty() {
                eprintln!("clinicbench: note: {} holds {} norm tensor(s) that llama.cpp does not apply, and neither do we ({})", path.display(), skipped.len(), skipped.join(", "));
            }
            Ok((g, scale))
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum KvCacheArg {
    F32,
    F16,
}

#[derive(Args)]
struct GenerateArgs {
    #[command(flatten)]
    run: RunArgs,
    #[arg(long, default_value_t = 256)]
    max_tokens: usize,
    /// Sample at this temperature instead of greedy decoding.
    #[arg(long)]
    temperature: Option<f32>,
    /// Seed for sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Sample only among the k most likely tokens (0: all).
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Keep generating past end-of-generation tokens.
    #[arg(long)]
    ignore_eos: bool,
    /// Wrap each prompt as a user turn in the model's chat template.
    #[arg(long)]
    chat_template: bool,
}

#[derive(Args)]
struct BenchArgs {
    #[command(flatten)]
    run: RunArgs,
    #[arg(long, default_value_t = 512)]
    prompt_tokens: usize,
    #[arg(long, default_value_t = 128)]
    gen_tokens: usize,
}

#[derive(Args)]
struct ScoreArgs {
    /// acc, acc_norm, exact_match, quasi_exact_match, rouge1, rouge2, rougeL, rougeLsum, bleu,
    /// entity_f1, f1_micro, f1_macro or set_f1.
    #[arg(long, value_parser = parse_metric)]
    metric: Metric,
    /// Stem tokens with rouge-score's Porter stemmer (ROUGE metrics only).
    #[arg(long)]
    rouge_stemmer: bool,
    /// Score only these labels, as scikit-learn's `labels=` (f1_micro, f1_macro only).
    #[arg(long, value_delimiter = ',')]
    labels: Option<Vec<String>>,
}

fn parse_metric(name: &str) -> Result<Metric, String> {
    name.parse().map_err(|e: MetricError| e.to_string())
}

/// A failure that ends the command with exit status 2.
struct Fatal(anyhow::Error);

fn main() -> ExitCode {
    quiet_vulkan_device_select();
    let cli = Cli::parse();
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(Fatal(e)) => {
            eprintln!("clinicbench: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Mesa's implicit Vulkan layer `VK_LAYER_MESA_device_select` asks Wayland for the default
/// GPU, and without a runtime directory libwayland prints "error: XDG_RUNTIME_DIR is invalid or
/// not set in the environment." on every GPU probe, where nothing went wrong (a plain terminal,
/// ssh, a container). The layer only reorders adapters, and the backend picks its adapter
/// itself, so there it is turned off (`NODEVICE_SELECT`, Mesa's switch) unless the user set it.
fn quiet_vulkan_device_select() {
    let runtime_dir_ok = std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| Path::new(&d).is_dir());
    if !runtime_dir_ok && std::env::var_os("NODEVICE_SELECT").is_none() {
        // Before any thread starts: nothing else reads the environment yet.
        std::env::set_var("NODEVICE_SELECT", "1");
    }
}

/// Returns whether every input line succeeded.
fn run(cli: Cli) -> Result<bool, Fatal> {
    let fatal = Fatal;
    match cli.command {
        Command::Tokenize(m) => {
            let gguf = open_gguf(&m.model).map_err(fatal)?;
            let tok = Tokenizer::from_gguf(&gguf).context("cannot build the tokenizer").map_err(fatal)?;
            Ok(json_lines(|line| {
                let text: String = serde_json::from_str(line).context("expected a JSON string")?;
                Ok(json!(tok.encode(&text, true, false)))
            }))
        }
        Command::Loglikelihood(r) => {
            let mut engine = load_engine(&r.model.model, &r.engine).map_err(fatal)?;
            Ok(json_lines(|line| {
                let req: LogLikelihoodRequest =
                    serde_json::from_str(line).context("expected {\"context\": ..., \"continuation\": ...}")?;
                let out = wait(engine.loglikelihood(std::slice::from_ref(&req)))?;
                let ll = &out[0];
                Ok(json!({"logprob": ll.logprob, "is_greedy": ll.is_greedy, "n_tokens": ll.n_tokens, "truncated": ll.truncated}))
            }))
        }
        Command::Generate(g) => {
            let mut engine = load_engine(&g.run.model.model, &g.run.engine).map_err(fatal)?;
            if g.chat_template && engine.tokenizer().chat_template().is_none() {
                return Err(fatal(anyhow::anyhow!(
                    "--chat-template: the model has no tokenizer.chat_template in its metadata"
                )));
            }
            let sampling = match g.temperature {
                Some(t) => Sampling::Temperature { temperature: t, seed: g.seed, top_k: g.top_k },
                None => Sampling::Greedy,
            };
            Ok(json_lines(|line| {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Line {
                    prompt: String,
                    #[serde(default)]
                    stop: Vec<String>,
                }
                let l: Line = serde_json::from_str(line).context("expected {\"prompt\": ..., \"stop\"?: [...]}")?;
                let req = GenerateRequest {
                messages: None,
                    prompt: l.prompt,
                    stop: l.stop,
                    max_tokens: g.max_tokens,
                    sampling,
                    ignore_eos: g.ignore_eos,
                };
                let out = if g.chat_template {
                    let mut ids = engine.tokenizer().encode_chat(&[("user".to_string(), req.prompt.clone())], true)?;
                    wait(engine.generate_tokens(&mut ids, &req, &mut |_| {}))?
                } else {
                    wait(engine.generate(&req, &mut |_| {}))?
                };
                Ok(json!({"text": out.text, "ids": out.ids, "finish": out.finish, "truncated": out.truncated}))
            }))
        }
        Command::Inspect { model, json } => {
            inspect(&model.model, json).map_err(fatal)?;
            Ok(true)
        }
        Command::Bench(b) => {
            bench(&b).map_err(fatal)?;
            Ok(true)
        }
        Command::Demo(r) => {
            demo(&r).map_err(fatal)?;
            Ok(true)
        }
        Command::Eval(e) => eval::eval(&e).map_err(fatal),
        Command::Tasks => {
            eval::list_tasks();
            Ok(true)
        }
        Command::Score(s) => score(s),
        Command::Compare(c) => eval::compare_runs(&c).map_err(fatal),
        Command::Merge(m) => eval::merge(&m).map_err(fatal),
        Command::Plan(p) => plan::plan(&p).map_err(fatal),
        Command::Report(r) => report::report(&r).map_err(fatal),
        Command::Review(r) => review::run(&r).map_err(fatal),
    }
}

/// `score`: every line is one sample; bad lines are reported and skipped, the rest scored.
fn score(args: ScoreArgs) -> Result<bool, Fatal> {
    let options = ScoreOptions { rouge_stemmer: args.rouge_stemmer, labels: args.labels, ..Default::default() };
    let mut scorer = Scorer::new(args.metric, options).map_err(|e| Fatal(e.into()))?;
    let mut all_ok = true;
    for (i, line) in std::io::stdin().lock().lines().enumerate() {
        let pushed = match line {
            Err(e) => Err(anyhow::Error::new(e).context("cannot read the line (invalid UTF-8?)")),
            Ok(l) => score_line(&mut scorer, &l),
        };
        if let Err(e) = pushed {
            all_ok = false;
            eprintln!("clinicbench: line {}: {e:#}", i + 1);
        }
    }
    match scorer.finish() {
        Ok(scored) => {
            println!("{}", json!(scored.score()));
            Ok(all_ok)
        }
        Err(e) => {
            eprintln!("clinicbench: {e}");
            Ok(false)
        }
    }
}

fn score_line(scorer: &mut Scorer, line: &str) -> Result<()> {
    #[derive(Deserialize)]
    struct Line {
        prediction: Value,
        reference: Value,
    }
    let l: Line = serde_json::from_str(line).context("expected {\"prediction\": ..., \"reference\": ...}")?;
    match scorer.push_json(&l.prediction, &l.reference) {
        Ok(_) => Ok(()),
        // The line number already says which sample.
        Err(MetricError::Sample { reason, .. }) => Err(anyhow::anyhow!("{}: {reason}", scorer.metric())),
        Err(e) => Err(e.into()),
    }
}

/// Opens a model file, or the first part of a split model with the rest beside it.
fn open_gguf(path: &Path) -> Result<Gguf<SplitSource<FileSource>>> {
    let parts = model_parts(path)?;
    let sources = parts
        .iter()
        .map(|p| FileSource::open(p).with_context(|| format!("cannot open model file {}", p.display())))
        .collect::<Result<Vec<_>>>()?;
    Gguf::open_parts(sources).with_context(|| format!("cannot read model file {}", path.display()))
}

/// The files of the model at `path`: itself, or, where it is the first part of a split model
/// (`NAME-00001-of-0000N.gguf`, as llama.cpp's gguf-split writes), every part in order; a
/// missing part, or a later part given first, is an error that names the file wanted.
pub(crate) fn model_parts(path: &Path) -> Result<Vec<PathBuf>> {
    let src = FileSource::open(path).with_context(|| format!("cannot open model file {}", path.display()))?;
    let g = Gguf::open(src).with_context(|| format!("cannot read model file {}", path.display()))?;
    let Some((no, count)) = split::part_of(&g).with_context(|| format!("cannot read model file {}", path.display()))? else {
        return Ok(vec![path.to_path_buf()]);
    };
    if count <= 1 {
        return Ok(vec![path.to_path_buf()]);
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if no != 0 {
        bail!("{} is part {} of a model split in {count}: give the first part (NAME-00001-of-{count:05}.gguf)", path.display(), no + 1);
    }
    let dir = path.parent().unwrap_or(Path::new(""));
    (1..=count)
        .map(|k| {
            let file = split::part_name(name, k, count).with_context(|| {
                format!("{} is the first of {count} parts, but its name is not NAME-00001-of-{count:05}.gguf, so the others cannot be found", path.display())
            })?;
            let part = dir.join(file);
            if !part.is_file() {
                bail!("part {k} of {count} of the model is missing: {}", part.display());
            }
            Ok(part)
        })
        .collect()
}

fn default_ctx(c: &ModelConfig) -> usize {
    c.n_ctx_train.min(4096)
}

/// What the GPU backend measured at load, for `bench`.
struct GpuFacts {
    dispatches_per_token: usize,
    bandwidth_gb_s: f64,
}

fn load_engine(model: &Path, e: &EngineArgs) -> Result<LocalEngine<Box<dyn Backend>>> {
    Ok(load_engine_measured(model, e, false)?.0)
}

/// Loads the model on the backend `--backend` names; with `measure`, a GPU backend also
/// measures the device's streaming bandwidth.
fn load_engine_measured(model: &Path, r: &EngineArgs, measure: bool) -> Result<(LocalEngine<Box<dyn Backend>>, Option<GpuFacts>)> {
    // The calling thread is one of the pool's threads: the backend's parallel loops (about two
    // hundred a decode step) start on it instead of being handed to a pool thread while it
    // waits, and `--threads N` starts N - 1 threads. Measured level to +2% on this project's
    // machines: sound rather than fast.
    let mut pool = rayon::ThreadPoolBuilder::new().use_current_thread();
    if let Some(t) = r.threads {
        pool = pool.num_threads(t.max(1));
    }
    pool.build_global().ok();
    let gguf = open_gguf(model)?;
    let tok = Tokenizer::from_gguf(&gguf).context("cannot build the tokenizer")?;
    let config = ModelConfig::from_gguf(&gguf).with_context(|| format!("cannot run {}", model.display()))?;
    let n_ctx = r.ctx_size.unwrap_or_else(|| default_ctx(&config));
    let adapter_files = open_adapters(r)?;
    let adapters: Vec<Adapter<FileSource>> = adapter_files.iter().map(|(gguf, scale)| Adapter { gguf, scale: *scale }).collect();
    let cannot_load = || {
        let with: Vec<String> = r.adapters().unwrap_or_default().iter().map(|(p, _)| p.display().to_string()).collect();
        if with.is_empty() {
            format!("cannot load {}", model.display())
        } else {
            format!("cannot load {} with {}", model.display(), with.join(", "))
        }
    };
    let kv_cache = match r.kv_cache {
        KvCacheArg::F32 => KvCache::F32,
        KvCacheArg::F16 => KvCache::F16,
    };
    if kv_cache == KvCache::F16 && r.backend == BackendKind::Cpu {
        bail!("--kv-cache f16 is for the GPU backend; the CPU backend keeps its cache in f32");
    }
    let options = GpuOptions { portable_kernels: r.portable_kernels, kv_cache, ..GpuOptions::default() };
    let gpu = match r.backend {
        BackendKind::Cpu => None,
        BackendKind::Wgpu => Some(pollster::block_on(Gpu::open(&options)).context("--backend wgpu")?),
        // No adapter, or only a software one: the CPU, without a word (it is the default);
        // but an f16 cache asked for and not possible is said.
        BackendKind::Auto => match pollster::block_on(Gpu::open(&options)) {
            Err(e @ GpuError::Unsupported(_)) => return Err(e).context("--kv-cache f16"),
            other => other.ok().filter(|g| !g.is_software()),
        },
    };
    let (backend, facts): (Box<dyn Backend>, _) = match gpu {
        None => (Box::new(CpuBackend::load_adapted(&gguf, n_ctx, &adapters).with_context(cannot_load)?), None),
        Some(gpu) => {
            let mut b = WgpuBackend::load_adapted_on(gpu, &gguf, n_ctx, &adapters).with_context(cannot_load)?;
            let facts = if measure {
                // A buffer as large as the biggest weight part, read eight times.
                let bandwidth_gb_s = b.stream_bandwidth(b.gpu().max_binding.min(256 << 20), 8)?;
                Some(GpuFacts { dispatches_per_token: b.dispatches_per_token(), bandwidth_gb_s })
            } else {
                None
            };
            (Box::new(b), facts)
        }
    };
    Ok((LocalEngine::new(tok, backend), facts))
}

/// Reads JSON lines from stdin and answers each with `f`, keeping output aligned with input.
fn json_lines(mut f: impl FnMut(&str) -> Result<Value>) -> bool {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    let progress = std::io::stderr().is_terminal().then(|| {
        let p = indicatif::ProgressBar::new_spinner();
        p.set_style(indicatif::ProgressStyle::with_template("{spinner} {pos} lines  {elapsed}  {per_sec}").unwrap());
        p
    });
    let mut all_ok = true;
    for (i, line) in stdin.lock().lines().enumerate() {
        let reply = match line {
            Err(e) => Err(anyhow::Error::new(e).context("cannot read the line (invalid UTF-8?)")),
            Ok(l) => f(&l),
        };
        let value = match reply {
            Ok(v) => v,
            Err(e) => {
                all_ok = false;
                eprintln!("clinicbench: line {}: {e:#}", i + 1);
                json!({"error": format!("{e:#}")})
            }
        };
        if writeln!(out, "{value}").and_then(|_| out.flush()).is_err() {
            break; // stdout closed (e.g. piped into `head`): stop quietly
        }
        if let Some(p) = &progress {
            p.inc(1);
        }
    }
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    all_ok
}

fn inspect(path: &Path, as_json: bool) -> Result<()> {
    let g = open_gguf(path)?;
    let config = ModelConfig::from_gguf(&g);
    let tok_kind = g.get_str("tokenizer.ggml.model").unwrap_or("none").to_string();
    let n_params: u64 = g.tensors.iter().map(|t| t.n_elements()).sum();
    let mut mix: Vec<(String, usize, u64)> = Vec::new();
    for t in &g.tensors {
        match mix.iter_mut().find(|m| m.0 == t.ty.name()) {
            Some(m) => {
                m.1 += 1;
                m.2 += t.n_bytes()
            }
            None => mix.push((t.ty.name().to_string(), 1, t.n_bytes())),
        }
    }
    mix.sort_by(|a, b| b.2.cmp(&a.2));
    let weights = g.tensor_bytes();
    let (arch, n_ctx_train, kv_per_token, ctx) = match &config {
        Ok(c) => {
            let kv = (c.n_layer * (c.k_dim() + c.v_dim()) * 4) as u64;
            (c.arch.clone(), c.n_ctx_train, kv, default_ctx(c))
        }
        Err(_) => (g.get_str("general.architecture").unwrap_or("unknown").to_string(), 0, 0, 0),
    };
    let memory = weights + kv_per_token * ctx as u64;
    let value = json!({
        "file": path.display().to_string(),
        "name": g.get_str("general.name").ok(),
        "architecture": arch,
        "supported": config.as_ref().err().map(|e| e.to_string()).map_or(json!(true), |e| json!(e)),
        "parameters": n_params,
        "gguf_version": g.version,
        "tensors": g.tensors.len(),
        "quantization": mix.iter().map(|(n, c, b)| json!({"type": n, "tensors": c, "bytes": b})).collect::<Vec<_>>(),
        "context_length": n_ctx_train,
        "weights_bytes": weights,
        "kv_cache_bytes_per_token": kv_per_token,
        "memory_bytes": memory,
        "memory_ctx": ctx,
        "tokenizer": tok_kind,
        "layers": config.as_ref().ok().map(|c| c.n_layer),
        "embedding_length": config.as_ref().ok().map(|c| c.n_embd),
        "heads": config.as_ref().ok().map(|c| json!({"q": c.n_head, "kv": c.n_head_kv, "dim": c.head_dim})),
        "vocab": config.as_ref().ok().map(|c| c.n_vocab),
        "chat_template": g.get("tokenizer.chat_template").is_some(),
    });
    if as_json {
        println!("{value}");
        return Ok(());
    }
    let mib = |b: u64| format!("{:.1} MiB", b as f64 / (1 << 20) as f64);
    println!("file            {}", path.display());
    println!("name            {}", g.get_str("general.name").unwrap_or("-"));
    println!("architecture    {arch}");
    if let Err(e) = &config {
        println!("supported       no: {e}");
    }
    println!("parameters      {:.1} M", n_params as f64 / 1e6);
    println!("context length  {n_ctx_train}");
    println!("tokenizer       {tok_kind}");
    println!("weights         {}", mib(weights));
    println!("memory needed   {} (weights + f32 KV cache for {ctx} tokens)", mib(memory));
    println!("quantization");
    for (name, count, bytes) in &mix {
        println!("  {name:<6} {count:>4} tensors  {:>12}", mib(*bytes));
    }
    Ok(())
}

fn bench(b: &BenchArgs) -> Result<()> {
    let (mut engine, gpu) = load_engine_measured(&b.run.model.model, &b.run.engine, true)?;
    let r = wait(engine.bench(b.prompt_tokens, b.gen_tokens)).context("--prompt-tokens/--gen-tokens (raise --ctx-size)")?;
    let decode_tok_s = r.decode_tokens_per_second();
    let mut report = json!({
            "model": b.run.model.model.display().to_string(),
            "backend": engine.backend().describe(),
            "threads": rayon::current_num_threads(),
            "prompt_tokens": r.prompt_tokens,
            "gen_tokens": r.gen_tokens,
            "prefill_tok_s": r.prefill_tokens_per_second(),
            "decode_tok_s": decode_tok_s,
            "bytes_per_token": r.bytes_per_token,
            "decode_gb_s": r.bytes_per_token as f64 * decode_tok_s / 1e9,
    });
    // Adapters add products to every adapted weight: a figure names the ones it ran with.
    let adapters = b.run.engine.adapters()?;
    if !adapters.is_empty() {
        report["adapters"] = json!(adapters.iter().map(|(file, scale)| json!({"file": file.display().to_string(), "scale": scale})).collect::<Vec<_>>());
    }
    // Prefill against this machine's measured f32 FMA peak (the CPU backend's arithmetic).
    let flops = engine.backend().config().prefill_flops(r.prompt_tokens);
    report["prefill_gflop_s"] = json!(flops / r.prefill_seconds / 1e9);
    report["flop_per_prompt_token"] = json!(flops / r.prompt_tokens as f64);
    if gpu.is_none() {
        let peak = clinicbench::backend::cpu::peak::fma_peak_flops(0.6);
        report["fma_peak_gflop_s"] = json!(peak / 1e9);
        report["prefill_peak_fraction"] = json!(flops / r.prefill_seconds / peak);
    }
    if let Some(g) = gpu {
        report["dispatches_per_token"] = json!(g.dispatches_per_token);
        report["bandwidth_gb_s"] = json!(g.bandwidth_gb_s);
        // The share of the device's streaming bandwidth that decoding uses.
        report["roofline_fraction"] = json!(r.bytes_per_token as f64 * decode_tok_s / 1e9 / g.bandwidth_gb_s);
    }
    println!("{report}");
    Ok(())
}

fn demo(r: &RunArgs) -> Result<()> {
    let mut engine = load_engine(&r.model.model, &r.engine)?;
    eprintln!("model: {} on {}", r.model.model.display(), engine.backend().describe());
    let mut out = std::io::stdout();
    let questions = [
        "Question: Which vitamin deficiency causes scurvy?\nAnswer:",
        "Question: What is the first-line medication for type 2 diabetes?\nAnswer:",
        "Question: Name the main symptom of a myocardial infarction.\nAnswer:",
    ];
    for q in questions {
        writeln!(out, "\n{q}")?;
        let req = GenerateRequest {
                messages: None,
            prompt: q.to_string(),
            stop: vec!["\n\n".into(), "Question:".into()],
            max_tokens: 48,
            sampling: Sampling::Greedy,
            ignore_eos: false,
        };
        wait(engine.generate(&req, &mut |piece| {
            let _ = write!(out, "{piece}");
            let _ = out.flush();
        }))?;
        writeln!(out)?;
    }
    // A multiple-choice question scored the way the benchmark scores it.
    let context = "Question: Which organ produces insulin?\nA. Liver\nB. Pancreas\nC. Kidney\nD. Spleen\nAnswer:";
    let options = [" A", " B", " C", " D"];
    let reqs: Vec<_> = options
        .iter()
        .map(|o| LogLikelihoodRequest::new(context.to_string(), o.to_string()))
        .collect();
    let lls = wait(engine.loglikelihood(&reqs))?;
    let total: f64 = lls.iter().map(|l| l.logprob.exp()).sum();
    writeln!(out, "\n{context}")?;
    for (o, l) in options.iter().zip(&lls) {
        writeln!(out, "  {} {:5.1}%", o.trim(), 100.0 * l.logprob.exp() / total)?;
    }
    let s = &engine.stats;
    eprintln!(
        "\nprefill {:.1} tok/s, decode {:.1} tok/s",
        s.prefill_tokens as f64 / s.prefill_seconds.max(1e-9),
        s.decode_tokens as f64 / s.decode_seconds.max(1e-9)
    );
    Ok(())
}
