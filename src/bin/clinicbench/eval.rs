//! `clinicbench eval` and `clinicbench tasks`: ClinicBench tasks over a model, results on disk.

use anyhow::{bail, Context, Result};
use clap::Args;
use clinicbench::backend::Backend;
use clinicbench::tasks::{self, RunOptions, TaskSpec};
use serde_json::{json, Value};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
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
    /// A whole suite: `clinicbench` runs every task whose data is present.
    #[arg(long)]
    pub suite: Option<String>,
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

/// The samples an earlier run left in `path`. A last line cut short by an interruption is
/// dropped; any other unreadable line is an error (the file is not one of ours).
fn previous_samples(path: &std::path::Path) -> Result<Vec<tasks::Sample>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str(line) {
            Ok(s) => out.push(s),
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => {}
            Err(e) => bail!("--resume: {} line {}: {e}", path.display(), i + 1),
        }
    }
    Ok(out)
}

/// Which tasks a command line names.
fn selected(args: &EvalArgs) -> Result<Vec<TaskSpec>> {
    let names: Vec<String> = match (&args.task, &args.suite) {
        (Some(t), _) => vec![t.clone()],
        (None, Some(s)) if s == "clinicbench" => {
            return Ok(tasks::spec::builtin()
                .into_iter()
                .filter(|t| args.data_root.join(&t.path).exists())
                .collect());
        }
        (None, Some(s)) => bail!("unknown suite {s:?} (the suite is `clinicbench`)"),
        (None, None) if !args.tasks.is_empty() => args.tasks.clone(),
        (None, None) => bail!("name a task: --task NAME, --tasks a,b or --suite clinicbench"),
    };
    names
        .iter()
        .map(|n| tasks::spec::find(n).ok_or_else(|| tasks::TaskError::UnknownTask(n.clone()).into()))
        .collect()
}

/// SHA-256 of a file, streamed (a model may be gigabytes).
fn sha256_file(path: &std::path::Path) -> Result<String> {
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
    let model_sha = sha256_file(&args.run.model.model)?;
    let samples_path = args.out.join("samples.jsonl");
    let previous = if args.resume { previous_samples(&samples_path)? } else { vec![] };
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
    let opts = RunOptions { shots: args.shots, limit: args.limit, seed: args.seed, previous };
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
                indicatif::ProgressStyle::with_template("{prefix:>24} {bar:30} {pos}/{len} {elapsed} eta {eta}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            p.set_prefix(spec.name.clone());
            p
        });
        let t0 = Instant::now();
        let mut write_error = None;
        let run = tasks::run_multiple_choice(&mut engine, spec, &data, &opts, &mut |s| {
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
        })?;
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
            .map(|f| Ok(json!({"path": f.display().to_string(), "sha256": sha256_file(f)?})))
            .collect::<Result<_>>()?;
        datasets.insert(
            spec.name.clone(),
            json!({"importer": spec.importer, "files": files, "spec_version": spec.version, "records": data.docs.len()}),
        );
    }
    let provenance = json!({
        "model": args.run.model.model.display().to_string(),
        "model_sha256": model_sha,
        "datasets": datasets,
        "shots": args.shots,
        "limit": args.limit,
        "seed": args.seed,
        "engine_version": env!("CARGO_PKG_VERSION"),
        "backend": engine.backend().describe(),
        "seconds": started.elapsed().as_secs_f64(),
        "prefill_tokens": engine.stats.prefill_tokens,
        "reused_tokens": engine.stats.reused_tokens,
    });
    let doc = json!({"results": results, "provenance": provenance});
    let results_path = args.out.join("results.json");
    std::fs::write(&results_path, serde_json::to_string_pretty(&doc)? + "\n")
        .with_context(|| format!("cannot write {}", results_path.display()))?;
    print_table(&results);
    Ok(all_ok)
}

fn print_table(results: &serde_json::Map<String, Value>) {
    println!("{:<30} {:>8} {:>8} {:>17} {:>6}", "task", "metric", "value", "95% interval", "n");
    for (task, r) in results {
        for metric in ["acc", "acc_norm"] {
            let Some(v) = r.get(metric).and_then(Value::as_f64) else { continue };
            let ci = r
                .get(format!("{metric}_ci95"))
                .and_then(Value::as_array)
                .and_then(|a| Some(format!("[{:.3}, {:.3}]", a.first()?.as_f64()?, a.get(1)?.as_f64()?)))
                .unwrap_or_else(|| "-".into());
            println!("{task:<30} {metric:>8} {v:>8.4} {ci:>17} {:>6}", r["n"]);
        }
    }
}

pub fn list_tasks() {
    println!("{:<28} {:<10} {:<10} {:<14} {:<52} licence", "task", "scenario", "metrics", "importer", "data (under --data-root)");
    for t in tasks::spec::builtin() {
        println!(
            "{:<28} {:<10} {:<10} {:<14} {:<52} {}",
            t.name,
            t.scenario,
            t.metrics.join(","),
            t.importer,
            t.path,
            t.licence
        );
    }
}
