//! `clinicbench eval`, `tasks` and `compare`: ClinicBench tasks over a model, results on disk,
//! two runs side by side.

use anyhow::{bail, Context, Result};
use clap::Args;
use clinicbench::backend::Backend;
use clinicbench::engine::{wait, Engine as _};
use clinicbench::model::card::ModelCard;
use clinicbench::report::{self, DataFile, DatasetProvenance, Host, ModelProvenance, Provenance, RunReport, TaskProvenance, TaskResult, Timings};
use clinicbench::tasks::{self, Event, RunOptions, Sample, Shard, TaskSpec};
use serde_json::json;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Which tasks, and where their data is (for a plan: as its jobs will see them).
#[derive(Args, Clone, Debug)]
pub struct TaskSelection {
    /// Several tasks, comma-separated.
    #[arg(long, value_delimiter = ',', conflicts_with = "suite")]
    pub tasks: Vec<String>,
    /// A whole suite: `clinicbench` runs every task (and `_gen` variant) whose data is present
    /// under --data-root.
    #[arg(long)]
    pub suite: Option<String>,
    /// Task spec files of your own (TOML, as in the crate's tasks/ folder), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub spec: Vec<PathBuf>,
    /// Folder laid out like the shared datasets folder.
    #[arg(long, default_value = "../shared/datasets")]
    pub data_root: PathBuf,
}

/// How documents become prompts and how long answers may be: what every task of a run (and
/// every job of a plan) shares.
#[derive(Args, Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptSettings {
    /// Few-shot examples per prompt.
    #[arg(long, default_value_t = 0)]
    pub shots: usize,
    /// Only the first N documents of each task.
    #[arg(long)]
    pub limit: Option<usize>,
    /// N documents of each task drawn at random with --seed, scored in the dataset's order
    /// (a quick estimate, or a speed projection, from documents not all from the beginning).
    #[arg(long, conflicts_with = "limit")]
    pub sample: Option<usize>,
    /// Seed of the few-shot selection.
    #[arg(long, default_value_t = 1234)]
    pub seed: u64,
    /// Wrap prompts in the model's chat template (as lm-eval's --apply_chat_template).
    #[arg(long)]
    pub chat_template: bool,
    /// Most tokens generated per document in generation tasks (default: each task's own).
    #[arg(long)]
    pub max_new_tokens: Option<usize>,
}

impl PromptSettings {
    /// The runner's options for these settings (no earlier samples, no shard).
    pub fn run_options(&self) -> RunOptions {
        RunOptions {
            shots: self.shots,
            limit: self.limit,
            sample: self.sample,
            seed: self.seed,
            chat_template: self.chat_template,
            max_new_tokens: self.max_new_tokens,
            ..RunOptions::default()
        }
    }
}

/// A second layout for a run's files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// lm-evaluation-harness 0.4's results and samples files.
    LmEval,
}

#[derive(Args, Clone)]
pub struct EvalArgs {
    /// Path to a GGUF model file.
    #[arg(long, short, required_unless_present = "plan")]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub engine: super::EngineArgs,
    /// Run one job of a plan (`clinicbench plan`): its model, task and shard, into its folder
    /// under the plan's results. The plan sets the tasks, data and prompt settings.
    #[arg(long, conflicts_with_all = ["model", "task", "tasks", "suite", "data", "shard", "out"])]
    pub plan: Option<PathBuf>,
    /// The plan's job to run; default: $JOB_COMPLETION_INDEX (a Kubernetes Indexed Job), else
    /// $SLURM_ARRAY_TASK_ID (a Slurm job array).
    #[arg(long, requires = "plan")]
    pub index: Option<usize>,
    /// One task.
    #[arg(long, conflicts_with_all = ["tasks", "suite"])]
    pub task: Option<String>,
    #[command(flatten)]
    pub selection: TaskSelection,
    /// This task's file or folder, instead of its default path under the data root.
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub prompts: PromptSettings,
    /// Fail on the first bad dataset row instead of skipping and counting it.
    #[arg(long)]
    pub strict: bool,
    /// Run part i of n of each task's documents (zero-based: 0/4 .. 3/4), after --limit;
    /// `clinicbench merge` puts the parts back together.
    #[arg(long)]
    pub shard: Option<Shard>,
    /// Folder for results.json and samples.jsonl.
    #[arg(long, required_unless_present = "plan")]
    pub out: Option<PathBuf>,
    /// Also write the run in lm-evaluation-harness 0.4's layout under --out
    /// (results_<time>.json, samples_<task>_<time>.jsonl), keyed by our task names.
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Continue an interrupted run: keep the samples already in OUT/samples.jsonl and score only
    /// the documents missing from it. Give the same task, model and prompt settings as before.
    #[arg(long)]
    pub resume: bool,
    /// Generation tasks: documents generated together, each step of the model reading the
    /// weights once for all of them (on the CPU; on the GPU and at 1, one at a time). A document's text does not
    /// depend on which documents share its batch; against one at a time it can differ where two
    /// tokens tie to rounding (the batched products sum in another order).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub batch: u16,
}

#[derive(Args)]
pub struct CompareArgs {
    /// The baseline run: an `eval --out` folder, a results.json or a page export.
    pub a: PathBuf,
    /// The other run.
    pub b: PathBuf,
    /// Folder of your own task spec files the runs used, if any (comma-separated files).
    #[arg(long, value_delimiter = ',')]
    pub spec: Vec<PathBuf>,
}

/// The samples an interrupted run left in `path` (a last line cut short is dropped).
fn read_samples(path: &Path) -> Result<Vec<Sample>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    Ok(report::parse_samples_jsonl(&path.display().to_string(), &text, true)?)
}

/// Writes a file whole or not at all: into a temporary file beside it, then renamed over it, so
/// a job killed mid-write (and retried) never leaves half a file.
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<()> {
    let tmp = partial_path(path);
    std::fs::write(&tmp, contents).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// `file.partial` beside `file`.
fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

/// `CLINICBENCH_ABORT_AFTER_SAMPLES=N`: the process aborts (as a job killed by its scheduler)
/// once N samples of a task are written. Fault injection for the tests of retried shards; no
/// other use.
fn abort_after() -> Option<usize> {
    std::env::var("CLINICBENCH_ABORT_AFTER_SAMPLES").ok()?.parse().ok()
}

/// The user's spec files, parsed.
pub fn user_specs(files: &[PathBuf]) -> Result<Vec<TaskSpec>> {
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        let spec = tasks::spec::parse(&f.display().to_string(), &text)?;
        let generative = spec.generative_variant();
        out.push(spec);
        out.extend(generative);
    }
    Ok(out)
}

/// A task by name among the user's specs, then the built-in ones.
pub fn find_spec(name: &str, user: &[TaskSpec]) -> Result<TaskSpec> {
    user.iter()
        .find(|t| t.name == name)
        .cloned()
        .or_else(|| tasks::spec::find(name))
        .ok_or_else(|| tasks::TaskError::UnknownTask(name.to_string()).into())
}

/// Which tasks a command line names.
fn selected(args: &EvalArgs) -> Result<Vec<TaskSpec>> {
    let t = &args.selection;
    selected_tasks(args.task.as_ref(), &t.tasks, t.suite.as_ref(), &t.spec, &t.data_root)
}

/// The tasks that --task, --tasks, --suite and --spec name.
pub fn selected_tasks(
    task: Option<&String>,
    task_list: &[String],
    suite: Option<&String>,
    spec: &[PathBuf],
    data_root: &Path,
) -> Result<Vec<TaskSpec>> {
    let user = user_specs(spec)?;
    let names: Vec<String> = match (task, suite) {
        (Some(t), _) => vec![t.clone()],
        (None, Some(s)) if s == "clinicbench" => {
            let present: Vec<TaskSpec> =
                tasks::spec::builtin().into_iter().filter(|t| data_root.join(&t.path).exists()).collect();
            if present.is_empty() {
                bail!("--suite clinicbench: no dataset of the suite under {} (see `clinicbench tasks`)", data_root.display());
            }
            return Ok(present);
        }
        (None, Some(s)) => bail!("unknown suite {s:?} (the suite is `clinicbench`)"),
        (None, None) if !task_list.is_empty() => task_list.to_vec(),
        // Only spec files: run every task they define.
        (None, None) if !user.is_empty() => return Ok(user),
        (None, None) => bail!("name a task: --task NAME, --tasks a,b, --suite clinicbench or --spec FILE"),
    };
    names.iter().map(|n| find_spec(n, &user)).collect()
}

/// SHA-256 of a model's bytes, streamed (a model may be gigabytes): of its file, or of its
/// parts one after another for a split model.
pub(crate) fn sha256_file(path: &Path) -> Result<String> {
    let parts = super::model_parts(path)?
        .iter()
        .map(|part| clinicbench::gguf::FileSource::open(part).with_context(|| format!("cannot read {}", part.display())))
        .collect::<Result<Vec<_>>>()?;
    Ok(clinicbench::web::sha256_of_parts(&parts)?)
}

pub fn eval(args: &EvalArgs) -> Result<bool> {
    // The whole command from here, the model's loading included.
    let began = Instant::now();
    if let Some(plan_path) = &args.plan {
        let job = super::plan::job_args(plan_path, args)?;
        return eval(&job);
    }
    let (Some(model_path), Some(out)) = (&args.model, &args.out) else {
        bail!("give --model and --out (or --plan)");
    };
    let specs = selected(args)?;
    if args.data.is_some() && specs.len() != 1 {
        bail!("--data names one task's file; use it with --task");
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut engine = super::load_engine(model_path, &args.engine)?;
    if args.prompts.chat_template && engine.tokenizer().chat_template().is_none() {
        bail!("--chat-template: the model has no tokenizer.chat_template in its metadata");
    }
    let card = ModelCard::from_gguf(&super::open_gguf(model_path)?);
    let model = ModelProvenance {
        file: model_path.display().to_string(),
        sha256: sha256_file(model_path)?,
        name: card.name,
        architecture: Some(card.architecture),
        parameters: Some(card.parameters),
        quantization: card.quantization,
        chat_template_sha256: engine
            .tokenizer()
            .chat_template()
            .filter(|_| args.prompts.chat_template)
            .map(|t| clinicbench::web::sha256_hex(t.as_bytes())),
        adapters: super::adapter_provenance(&args.engine)?,
    };
    // Samples are written as they are scored into samples.jsonl.partial, which becomes
    // samples.jsonl when the run ends: an interrupted run leaves only the partial file, which
    // --resume continues, and never a samples.jsonl that does not match results.json.
    let samples_path = out.join("samples.jsonl");
    let partial = partial_path(&samples_path);
    let previous = if !args.resume {
        vec![]
    } else if partial.exists() {
        read_samples(&partial).context("--resume")?
    } else {
        read_samples(&samples_path).context("--resume")?
    };
    if args.resume {
        eprintln!("clinicbench: resuming with {} finished samples", previous.len());
    }
    // Rewrite the kept samples first, so the file never holds a half line or a sample twice.
    let mut samples_file = std::io::BufWriter::new(
        std::fs::File::create(&partial).with_context(|| format!("cannot write {}", partial.display()))?,
    );
    for s in &previous {
        serde_json::to_writer(&mut samples_file, s)?;
        samples_file.write_all(b"\n")?;
    }
    samples_file.flush()?;
    // A backend that cannot run sequences side by side (the GPU's) generates one at a time, and
    // the results say so.
    let batch = if engine.generates_together() { usize::from(args.batch) } else { 1 };
    let opts = RunOptions { previous, shard: args.shard, batch, ..args.prompts.run_options() };
    let abort_after = abort_after();
    let mut report = RunReport::default();
    let mut all_ok = true;
    let started = Instant::now();
    // Documents scored and seconds, per task (the speed line after the table).
    let mut speeds: Vec<(String, usize, f64)> = Vec::new();
    for spec in &specs {
        // With --limit and no few-shot examples, a format that streams stops reading there.
        let data = tasks::load_data_up_to(spec, &args.selection.data_root, args.data.as_deref(), tasks::documents_needed(&opts))?;
        for bad in &data.bad_rows {
            eprintln!("clinicbench: {}: bad row {bad}", spec.name);
            if args.strict {
                bail!("--strict: {bad}");
            }
        }
        let n = opts.documents(data.docs.len()).len();
        let progress = std::io::stderr().is_terminal().then(|| {
            let p = indicatif::ProgressBar::new(n as u64);
            p.set_style(
                indicatif::ProgressStyle::with_template("{prefix:>30} {bar:30} {pos}/{len} {elapsed} eta {eta}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            p.set_prefix(spec.name.clone());
            p
        });
        let t0 = Instant::now();
        let mut write_error = None;
        let mut written = 0usize;
        let run = wait(tasks::run_task(&mut engine, spec, &data, &opts, &mut |event| {
            let Event::Sample(s) = event else { return };
            // Each sample is on disk as soon as it is scored: an interrupted run keeps them.
            if let Err(e) = serde_json::to_writer(&mut samples_file, s).map_err(std::io::Error::from).and_then(|_| {
                samples_file.write_all(b"\n")?;
                samples_file.flush()
            }) {
                write_error.get_or_insert(e);
            }
            written += 1;
            if abort_after.is_some_and(|n| written >= n) {
                // A job killed mid-way, for the tests of retries and merging (see abort_after).
                std::process::abort();
            }
            if let Some(p) = &progress {
                p.inc(1);
            }
        }))?;
        if let Some(e) = write_error {
            return Err(e).with_context(|| format!("cannot write {}", partial.display()));
        }
        if let Some(p) = progress {
            p.finish_and_clear();
        }
        for s in &run.skipped {
            eprintln!("clinicbench: {}: skipped {s}", spec.name);
        }
        all_ok &= run.skipped.is_empty() && data.bad_rows.is_empty();
        let seconds = t0.elapsed().as_secs_f64();
        speeds.push((spec.name.clone(), run.samples.len(), seconds));
        let result = TaskResult::from_run(spec, &run, data.bad_rows.len(), Some(seconds));
        let files = data
            .files
            .iter()
            .map(|f| Ok(DataFile { path: f.display().to_string(), sha256: clinicbench::web::sha256_hex(&tasks::read_data_file(f)?) }))
            .collect::<Result<_>>()?;
        let dataset = DatasetProvenance { importer: spec.importer.clone(), format: data.format.clone(), files, records: data.docs.len() };
        report.set_task(result, Some(TaskProvenance::new(spec, dataset, &opts)));
        report.samples.extend(run.samples);
    }
    drop(samples_file);
    report.provenance = Provenance {
        model,
        tasks: std::mem::take(&mut report.provenance.tasks),
        backend: engine.backend().describe(),
        engine_version: env!("CARGO_PKG_VERSION").into(),
        timings: Timings::from_stats(&engine.stats, started.elapsed().as_secs_f64()),
        host: Host::this_machine(),
        created: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| report::utc_timestamp(d.as_secs())),
    };
    // The samples file first, then results.json: a folder with results.json is a finished run.
    std::fs::rename(&partial, &samples_path).with_context(|| format!("cannot write {}", samples_path.display()))?;
    write_atomically(&out.join("results.json"), report.results_json().as_bytes())?;
    let user = user_specs(&args.selection.spec)?;
    if args.log_format == Some(LogFormat::LmEval) {
        // lm-eval names its files by local time without colons; ours by the report's UTC time.
        let time = report.provenance.created.clone().unwrap_or_default().trim_end_matches('Z').replace(':', "-");
        for (name, contents) in report::lm_eval::write(&report, &|n| find_spec(n, &user).ok(), &time) {
            write_atomically(&out.join(name), contents.as_bytes())?;
        }
    }
    print!("{}", report::table::run_table(&report, &|name| find_spec(name, &user).ok()));
    // Speed as a user compares it with another tool: per task, then the whole command with the
    // model's loading (what a `time` of the command measures).
    for (task, docs, seconds) in &speeds {
        eprintln!("clinicbench: {task}: {docs} documents in {seconds:.1} s ({:.2} documents/s)", *docs as f64 / seconds.max(1e-9));
    }
    let (docs, wall) = (speeds.iter().map(|s| s.1).sum::<usize>(), began.elapsed().as_secs_f64());
    eprintln!("clinicbench: {docs} documents in {wall:.1} s with loading ({:.2} documents/s)", docs as f64 / wall.max(1e-9));
    Ok(all_ok)
}

pub fn list_tasks() {
    println!(
        "{:<36} {:<14} {:<30} {:<10} {:<56} licence",
        "task", "scenario", "metrics", "output", "data (under --data-root)"
    );
    for t in tasks::spec::builtin() {
        let output = match (t.output, t.extract) {
            (tasks::Output::MultipleChoice, _) => "loglik".to_string(),
            (tasks::Output::Generation, Some(e)) => format!("gen:{}", format!("{e:?}").to_lowercase()),
            (tasks::Output::Generation, None) => "gen".to_string(),
        };
        println!(
            "{:<36} {:<14} {:<30} {:<10} {:<56} {}",
            t.name,
            t.scenario,
            t.metrics.join(","),
            output,
            format!("{} ({})", t.path, t.importer),
            t.licence
        );
    }
}

/// Pairs the samples of two runs by task and document, and compares each metric: exact
/// McNemar for 0/1 metrics, paired bootstrap otherwise. Prints one JSON line per task and
/// metric and a table on stderr. Tasks run on different data files are not paired.
pub fn compare_runs(args: &CompareArgs) -> Result<bool> {
    let user = user_specs(&args.spec)?;
    let read = |p: &Path| -> Result<RunReport> {
        let imported = report::read_run(p)?;
        for note in &imported.notes {
            eprintln!("clinicbench: note: {note}");
        }
        Ok(imported.report)
    };
    let (a, b) = (read(&args.a)?, read(&args.b)?);
    let mut refused = std::collections::BTreeSet::new();
    for r in &a.results {
        if let Some(why) = report::unpairable(a.provenance.tasks.get(&r.task), b.provenance.tasks.get(&r.task)) {
            eprintln!("clinicbench: {}: not paired: {why}", r.task);
            refused.insert(r.task.clone());
        }
    }
    let keep = |s: &&Sample| !refused.contains(&s.task);
    let sa: Vec<Sample> = a.samples.iter().filter(keep).cloned().collect();
    let sb: Vec<Sample> = b.samples.iter().filter(keep).cloned().collect();
    let spec_of = |name: &str| find_spec(name, &user).ok();
    let (comparisons, unpaired) = tasks::compare_runs(&sa, &sb, &spec_of)?;
    if comparisons.is_empty() {
        bail!("the two runs share no document (same task and doc_id, on the same data)");
    }
    eprintln!("{:<34} {:<10} {:>6} {:>9} {:>9} {:>9} {:>19} {:>9}", "task", "metric", "n", "a", "b", "b - a", "95% interval", "p");
    for tc in &comparisons {
        let c = &tc.comparison;
        println!("{}", json!({"task": tc.task, "comparison": c}));
        let ci = c.delta_ci95.map_or("-".into(), |[lo, hi]| format!("[{lo:.3}, {hi:.3}]"));
        eprintln!(
            "{:<34} {:<10} {:>6} {:>9.4} {:>9.4} {:>+9.4} {ci:>19} {:>9.4}",
            tc.task,
            c.metric.name(),
            c.n,
            c.a,
            c.b,
            c.delta,
            c.p_value
        );
    }
    if unpaired > 0 {
        eprintln!("clinicbench: {unpaired} samples are in one run only and were left out");
    }
    Ok(true)
}

#[derive(Args)]
pub struct MergeArgs {
    /// Shard folders (each an `eval --shard i/n --out` folder), or folders holding them, which
    /// are searched for results.json (a plan's `RESULTS/<model>` holds every task's shards).
    #[arg(required_unless_present = "plan")]
    pub shards: Vec<PathBuf>,
    /// Merge every model of a plan: each into OUT/<model label>.
    #[arg(long, conflicts_with = "shards")]
    pub plan: Option<PathBuf>,
    /// Task spec files of your own that the shards ran, if any.
    #[arg(long, value_delimiter = ',')]
    pub spec: Vec<PathBuf>,
    /// Folder that receives results.json and samples.jsonl (in document order).
    #[arg(long)]
    pub out: PathBuf,
}

/// The run folders (holding results.json) under `path`, sorted; an unfinished one (with only
/// samples.jsonl.partial) is named, since merging without it would lose its documents.
fn run_folders(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if path.join("results.json").is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    if path.join("samples.jsonl.partial").is_file() {
        bail!("{}: this shard did not finish (no results.json, only samples.jsonl.partial): run it again, then merge", path.display());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    entries.sort();
    for e in entries {
        run_folders(&e, out)?;
    }
    Ok(())
}

pub fn merge(args: &MergeArgs) -> Result<bool> {
    if let Some(plan_path) = &args.plan {
        let plan = super::plan::Plan::read(plan_path)?;
        for model in &plan.models {
            let one = MergeArgs {
                shards: vec![plan.model_results(model)],
                plan: None,
                spec: if args.spec.is_empty() { plan.spec.clone() } else { args.spec.clone() },
                out: args.out.join(&model.label),
            };
            merge(&one)?;
        }
        return Ok(true);
    }
    let user = user_specs(&args.spec)?;
    let mut folders = Vec::new();
    for p in &args.shards {
        if !p.is_dir() {
            bail!("{}: not a folder (give the shards' `eval --out` folders)", p.display());
        }
        let before = folders.len();
        run_folders(p, &mut folders)?;
        if folders.len() == before {
            bail!("{}: no results.json in it or below it: not a shard of `clinicbench eval`", p.display());
        }
    }
    let mut shards = Vec::with_capacity(folders.len());
    for f in &folders {
        let imported = report::read_run(f)?;
        for note in &imported.notes {
            eprintln!("clinicbench: note: {note}");
        }
        shards.push(report::ShardRun { label: f.display().to_string(), report: imported.report });
    }
    let merged = report::merge(&shards, &|name| find_spec(name, &user).ok())?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    write_atomically(&args.out.join("samples.jsonl"), merged.samples_jsonl().as_bytes())?;
    write_atomically(&args.out.join("results.json"), merged.results_json().as_bytes())?;
    eprintln!("clinicbench: merged {} shard folders into {}", folders.len(), args.out.display());
    print!("{}", report::table::run_table(&merged, &|name| find_spec(name, &user).ok()));
    Ok(true)
}
