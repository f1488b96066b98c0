//! `clinicbench eval`, `tasks` and `compare`: ClinicBench tasks over a model, results on disk,
//! two runs side by side.

use anyhow::{bail, Context, Result};
use clap::Args;
use clinicbench::backend::Backend;
use clinicbench::engine::wait;
use clinicbench::tasks::{self, Event, RunOptions, Sample, TaskSpec};
use serde_json::{json, Value};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub run: super::RunArgs,
    /// One task.
    #[arg(long, conflicts_with_all = ["tasks", "suite"])]
    pub task: Option<String>,
    /// Several tasks, comma-separated.
    #[arg(long, value_delimiter = ',', conflicts_with = "suite")]
    pub tasks: Vec<String>,
    /// A whole suite: `clinicbench` runs every task (and `_gen` variant) whose data is present.
    #[arg(long)]
    pub suite: Option<String>,
    /// Task spec files of your own (TOML, as in the crate's tasks/ folder), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub spec: Vec<PathBuf>,
    /// Folder laid out like the shared datasets folder.
    #[arg(long, default_value = "../shared/datasets")]
    pub data_root: PathBuf,
    /// This task's file or folder, instead of its default path under the data root.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Few-shot examples per prompt.
    #[arg(long, default_value_t = 0)]
    pub shots: usize,
    /// Only the first N documents of each task.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Seed of the few-shot selection.
    #[arg(long, default_value_t = 1234)]
    pub seed: u64,
    /// Wrap prompts in the model's chat template (as lm-eval's --apply_chat_template).
    #[arg(long)]
    pub chat_template: bool,
    /// Most tokens generated per document in generation tasks (default: each task's own).
    #[arg(long)]
    pub max_new_tokens: Option<usize>,
    /// Fail on the first bad dataset row instead of skipping and counting it.
    #[arg(long)]
    pub strict: bool,
    /// Folder for results.json and samples.jsonl.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue an interrupted run: keep the samples already in OUT/samples.jsonl and score only
    /// the documents missing from it. Give the same task, model and prompt settings as before.
    #[arg(long)]
    pub resume: bool,
}

#[derive(Args)]
pub struct CompareArgs {
    /// The baseline run's folder (its samples.jsonl).
    pub a: PathBuf,
    /// The other run's folder.
    pub b: PathBuf,
    /// Folder of your own task spec files the runs used, if any (comma-separated files).
    #[arg(long, value_delimiter = ',')]
    pub spec: Vec<PathBuf>,
}

/// The samples an earlier run left in `path`. A last line cut short by an interruption is
/// dropped; any other unreadable line is an error (the file is not one of ours).
fn read_samples(path: &Path, missing_ok: bool) -> Result<Vec<Sample>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if missing_ok && e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str(line) {
            Ok(s) => out.push(s),
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => {}
            Err(e) => bail!("{} line {}: not a sample of this version of clinicbench: {e}", path.display(), i + 1),
        }
    }
    Ok(out)
}

/// The user's spec files, parsed.
fn user_specs(files: &[PathBuf]) -> Result<Vec<TaskSpec>> {
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
fn find_spec(name: &str, user: &[TaskSpec]) -> Result<TaskSpec> {
    user.iter()
        .find(|t| t.name == name)
        .cloned()
        .or_else(|| tasks::spec::find(name))
        .ok_or_else(|| tasks::TaskError::UnknownTask(name.to_string()).into())
}

/// Which tasks a command line names.
fn selected(args: &EvalArgs) -> Result<Vec<TaskSpec>> {
    let user = user_specs(&args.spec)?;
    let names: Vec<String> = match (&args.task, &args.suite) {
        (Some(t), _) => vec![t.clone()],
        (None, Some(s)) if s == "clinicbench" => {
            let present: Vec<TaskSpec> =
                tasks::spec::builtin().into_iter().filter(|t| args.data_root.join(&t.path).exists()).collect();
            if present.is_empty() {
                bail!("--suite clinicbench: no dataset of the suite under {} (see `clinicbench tasks`)", args.data_root.display());
            }
            return Ok(present);
        }
        (None, Some(s)) => bail!("unknown suite {s:?} (the suite is `clinicbench`)"),
        (None, None) if !args.tasks.is_empty() => args.tasks.clone(),
        // Only spec files: run every task they define.
        (None, None) if !user.is_empty() => return Ok(user),
        (None, None) => bail!("name a task: --task NAME, --tasks a,b, --suite clinicbench or --spec FILE"),
    };
    names.iter().map(|n| find_spec(n, &user)).collect()
}

/// SHA-256 of a file, streamed (a model may be gigabytes).
fn sha256_file(path: &Path) -> Result<String> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut f = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    std::io::copy(&mut f, &mut hasher)?;
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

pub fn eval(args: &EvalArgs) -> Result<bool> {
    let specs = selected(args)?;
    if args.data.is_some() && specs.len() != 1 {
        bail!("--data names one task's file; use it with --task");
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut engine = super::load_engine(&args.run)?;
    if args.chat_template && engine.tokenizer().chat_template().is_none() {
        bail!("--chat-template: the model has no tokenizer.chat_template in its metadata");
    }
    let model_sha = sha256_file(&args.run.model.model)?;
    let samples_path = args.out.join("samples.jsonl");
    let previous = if args.resume { read_samples(&samples_path, true).context("--resume")? } else { vec![] };
    if args.resume {
        eprintln!("clinicbench: resuming with {} finished samples", previous.len());
    }
    // Rewrite the kept samples first, so the file never holds a half line or a sample twice.
    let mut samples_file = std::io::BufWriter::new(
        std::fs::File::create(&samples_path).with_context(|| format!("cannot write {}", samples_path.display()))?,
    );
    for s in &previous {
        serde_json::to_writer(&mut samples_file, s)?;
        samples_file.write_all(b"\n")?;
    }
    samples_file.flush()?;
    let opts = RunOptions {
        shots: args.shots,
        limit: args.limit,
        seed: args.seed,
        previous,
        chat_template: args.chat_template,
        max_new_tokens: args.max_new_tokens,
    };
    let mut results = serde_json::Map::new();
    let mut datasets = serde_json::Map::new();
    let mut all_ok = true;
    let started = Instant::now();
    for spec in &specs {
        let data = tasks::load_data(spec, &args.data_root, args.data.as_deref())?;
        for bad in &data.bad_rows {
            eprintln!("clinicbench: {}: bad row {bad}", spec.name);
            if args.strict {
                bail!("--strict: {bad}");
            }
        }
        let n = args.limit.map_or(data.docs.len(), |l| l.min(data.docs.len()));
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
        let run = wait(tasks::run_task(&mut engine, spec, &data, &opts, &mut |event| {
            let Event::Sample(s) = event else { return };
            // Each sample is on disk as soon as it is scored: an interrupted run keeps them.
            if let Err(e) = serde_json::to_writer(&mut samples_file, s).map_err(std::io::Error::from).and_then(|_| {
                samples_file.write_all(b"\n")?;
                samples_file.flush()
            }) {
                write_error.get_or_insert(e);
            }
            if let Some(p) = &progress {
                p.inc(1);
            }
        }))?;
        if let Some(e) = write_error {
            return Err(e).with_context(|| format!("cannot write {}", samples_path.display()));
        }
        if let Some(p) = progress {
            p.finish_and_clear();
        }
        for s in &run.skipped {
            eprintln!("clinicbench: {}: skipped {s}", spec.name);
        }
        all_ok &= run.skipped.is_empty() && data.bad_rows.is_empty();
        let mut entry = tasks::aggregate(spec, &run)?;
        entry.insert("bad_rows".into(), data.bad_rows.len().into());
        entry.insert("seconds".into(), t0.elapsed().as_secs_f64().into());
        results.insert(spec.name.clone(), Value::Object(entry));
        let files: Vec<Value> = data
            .files
            .iter()
            .map(|f| {
                let bytes = tasks::read_data_file(f)?;
                Ok(json!({"path": f.display().to_string(), "sha256": clinicbench::web::sha256_hex(&bytes)}))
            })
            .collect::<Result<_>>()?;
        datasets.insert(
            spec.name.clone(),
            json!({
                "importer": spec.importer,
                "format": data.format,
                "files": files,
                "records": data.docs.len(),
                "spec_version": spec.version,
                "spec_hash": spec.fingerprint(),
            }),
        );
    }
    let stats = &engine.stats;
    let provenance = json!({
        "model": args.run.model.model.display().to_string(),
        "model_sha256": model_sha,
        "datasets": datasets,
        "shots": args.shots,
        "limit": args.limit,
        "seed": args.seed,
        "chat_template": args.chat_template,
        "max_new_tokens": args.max_new_tokens,
        "engine_version": env!("CARGO_PKG_VERSION"),
        "backend": engine.backend().describe(),
        "seconds": started.elapsed().as_secs_f64(),
        "prefill_tokens": stats.prefill_tokens,
        "prefill_tokens_per_second": rate(stats.prefill_tokens, stats.prefill_seconds),
        "decode_tokens": stats.decode_tokens,
        "decode_tokens_per_second": rate(stats.decode_tokens, stats.decode_seconds),
        "reused_tokens": stats.reused_tokens,
    });
    let doc = json!({"results": results, "provenance": provenance});
    let results_path = args.out.join("results.json");
    std::fs::write(&results_path, serde_json::to_string_pretty(&doc)? + "\n")
        .with_context(|| format!("cannot write {}", results_path.display()))?;
    print_table(&specs, &results);
    Ok(all_ok)
}

fn rate(tokens: u64, seconds: f64) -> Value {
    if seconds > 0.0 {
        json!(tokens as f64 / seconds)
    } else {
        Value::Null
    }
}

/// One table: a row per task and metric, grouped by scenario.
fn print_table(specs: &[TaskSpec], results: &serde_json::Map<String, Value>) {
    println!("{:<14} {:<34} {:<10} {:>8} {:>19} {:>6} {:>8}", "scenario", "task", "metric", "value", "95% interval", "n", "unparsed");
    let mut order: Vec<&TaskSpec> = specs.iter().collect();
    let scenario_rank = |s: &str| ["reasoning", "generation", "understanding"].iter().position(|x| *x == s).unwrap_or(3);
    order.sort_by_key(|s| scenario_rank(&s.scenario));
    for spec in order {
        let Some(r) = results.get(&spec.name) else { continue };
        let n = r.get("n").and_then(Value::as_u64).unwrap_or(0);
        let unparsed = r.get("unparsed").and_then(Value::as_u64).unwrap_or(0);
        let mut printed = false;
        for metric in &spec.metrics {
            let Some(v) = r.get(metric).and_then(Value::as_f64) else { continue };
            let ci = r
                .get(format!("{metric}_ci95"))
                .and_then(Value::as_array)
                .and_then(|a| Some(format!("[{:.3}, {:.3}]", a.first()?.as_f64()?, a.get(1)?.as_f64()?)))
                .unwrap_or_else(|| "-".into());
            println!("{:<14} {:<34} {metric:<10} {v:>8.4} {ci:>19} {n:>6} {unparsed:>8}", spec.scenario, spec.name);
            printed = true;
        }
        if !printed {
            println!("{:<14} {:<34} {:<10} {:>8} {:>19} {n:>6} {:>8}", spec.scenario, spec.name, "-", "-", "no samples", "-");
        }
    }
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
/// metric and a table on stderr.
pub fn compare_runs(args: &CompareArgs) -> Result<bool> {
    let user = user_specs(&args.spec)?;
    let a = read_samples(&args.a.join("samples.jsonl"), false)?;
    let b = read_samples(&args.b.join("samples.jsonl"), false)?;
    let spec_of = |name: &str| find_spec(name, &user).ok();
    let (comparisons, unpaired) = tasks::compare_runs(&a, &b, &spec_of)?;
    if comparisons.is_empty() {
        bail!("the two runs share no document (same task and doc_id)");
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
