//! `clinicbench review`: review sets built from finished runs for clinicians to rate, and the
//! results of their ratings (the same library code as the page).

use super::eval::{find_spec, user_specs};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use clinicbench::report::side_by_side::{run_labels, NamedRun};
use clinicbench::review;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ReviewCommand {
    /// Build a review set from finished runs: the set for reviewers, and the unblinding key for
    /// whoever built it.
    Build(BuildArgs),
    /// The results of reviews: each run's mean rating per dimension, and agreement between raters.
    Stats(StatsArgs),
    /// The model as one more rater: it rates the set's outputs on the same instrument (each
    /// dimension by the likelihood of the scale's digits) and writes a reviewer's file.
    Judge(JudgeArgs),
}

#[derive(Args)]
pub struct JudgeArgs {
    /// Path to a GGUF model file.
    #[arg(long, short)]
    pub model: PathBuf,
    #[command(flatten)]
    pub engine: super::EngineArgs,
    /// The review set.
    pub set: PathBuf,
    /// The judge's pseudonym (default: `judge:` and the model's file name).
    #[arg(long)]
    pub rater: Option<String>,
    /// The judge's reviewer file.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args)]
pub struct BuildArgs {
    /// The runs: `eval --out` folders, results.json files or page exports.
    #[arg(long, num_args = 1.., required = true)]
    pub runs: Vec<PathBuf>,
    /// Tasks to draw from (default: every task all runs generated text for).
    #[arg(long, value_delimiter = ',')]
    pub tasks: Vec<String>,
    /// Items per task.
    #[arg(long, default_value_t = 20)]
    pub per_task: usize,
    /// Seeds the draw of items and the order of outputs.
    #[arg(long, default_value_t = 1234)]
    pub seed: u64,
    /// Task spec files of your own that the runs used, if any.
    #[arg(long, value_delimiter = ',')]
    pub spec: Vec<PathBuf>,
    /// The set for reviewers (it holds the runs' prompts and outputs: treat it like the data).
    #[arg(long)]
    pub out: PathBuf,
    /// The unblinding key: which output is which run. Keep it from the reviewers.
    #[arg(long)]
    pub key: PathBuf,
}

#[derive(Args)]
pub struct StatsArgs {
    /// Reviewers' files (JSON), or ratings in the long CSV form (item, run, dimension, rater, value).
    #[arg(required = true)]
    pub reviews: Vec<PathBuf>,
    /// The set the reviews rate (checks them: instrument, items, outputs).
    #[arg(long)]
    pub set: Option<PathBuf>,
    /// The unblinding key: name the runs instead of their opaque output ids.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Print one JSON document on stdout (tables and notes go to stderr).
    #[arg(long)]
    pub json: bool,
}

fn read(p: &PathBuf) -> Result<Vec<u8>> {
    std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))
}

pub fn run(command: &ReviewCommand) -> Result<bool> {
    match command {
        ReviewCommand::Build(a) => build(a),
        ReviewCommand::Stats(a) => review_stats(a),
        ReviewCommand::Judge(a) => judge(a),
    }
}

fn judge(a: &JudgeArgs) -> Result<bool> {
    let set = review::read_set(&a.set.display().to_string(), &read(&a.set)?)?;
    let mut engine = super::load_engine(&a.model, &a.engine)?;
    let rater = a.rater.clone().unwrap_or_else(|| format!("judge:{}", a.model.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| clinicbench::calendar::utc_timestamp(d.as_secs())).unwrap_or_default();
    let started = std::time::Instant::now();
    let review = clinicbench::engine::wait(review::judge::judge(&mut engine, &set, &rater, &now, &mut |done, total| {
        eprintln!("clinicbench: judged {done} of {total} items");
    }))?;
    super::eval::write_atomically(&a.out, (serde_json::to_string_pretty(&review)? + "\n").as_bytes())?;
    eprintln!(
        "clinicbench: {} ratings by {rater} in {:.1} s, written to {}",
        review.ratings.len(),
        started.elapsed().as_secs_f64(),
        a.out.display()
    );
    Ok(true)
}

fn build(a: &BuildArgs) -> Result<bool> {
    let user = user_specs(&a.spec)?;
    let mut named = Vec::new();
    for p in &a.runs {
        let imported = clinicbench::report::read_run(p)?;
        for note in &imported.notes {
            eprintln!("clinicbench: note: {note}");
        }
        named.push(NamedRun { source: p.display().to_string(), report: imported.report });
    }
    let labels = run_labels(&named);
    let runs: Vec<review::SourceRun> =
        named.into_iter().zip(labels).map(|(n, label)| review::SourceRun { label, source: n.source, report: n.report }).collect();
    let tasks = (!a.tasks.is_empty()).then_some(&a.tasks[..]);
    let (set, key) = review::build(&runs, tasks, a.per_task, a.seed, &|name| find_spec(name, &user).ok())?;
    super::eval::write_atomically(&a.out, (serde_json::to_string_pretty(&set)? + "\n").as_bytes())?;
    super::eval::write_atomically(&a.key, (serde_json::to_string_pretty(&key)? + "\n").as_bytes())?;
    let tasks: std::collections::BTreeSet<&str> = set.items.iter().map(|i| i.task.as_str()).collect();
    eprintln!(
        "clinicbench: {} items ({} per task at most, tasks: {}), {} runs; set {} (for reviewers), key {} (keep it)",
        set.items.len(),
        a.per_task,
        tasks.into_iter().collect::<Vec<_>>().join(", "),
        runs.len(),
        a.out.display(),
        a.key.display()
    );
    Ok(true)
}

fn review_stats(a: &StatsArgs) -> Result<bool> {
    let set = match &a.set {
        Some(p) => Some(review::read_set(&p.display().to_string(), &read(p)?)?),
        None => None,
    };
    let key = match &a.key {
        Some(p) => Some(review::read_key(&p.display().to_string(), &read(p)?)?),
        None => None,
    };
    if let (Some(set), Some(key)) = (&set, &key) {
        if key.set_hash != set.hash() {
            bail!("{}: the key is of another set (set hash differs)", a.key.as_ref().map(|p| p.display().to_string()).unwrap_or_default());
        }
    }
    // A reviewer once: a later export of the same review replaces an earlier one.
    let mut reviews = review::results::Reviews::default();
    for p in &a.reviews {
        if let Some(note) = reviews.add(&p.display().to_string(), &read(p)?, set.as_ref())? {
            eprintln!("clinicbench: {note}");
        }
    }
    if reviews.is_empty() {
        bail!("no ratings in the files given");
    }
    let all = reviews.results(key.as_ref());
    let (results, tags, pairwise) = (&all.stats, &all.tags, &all.pairwise);
    if a.json {
        eprint!("{}", results.table());
        for n in &results.notes {
            eprintln!("clinicbench: note: {n}");
        }
        println!("{}", serde_json::to_string_pretty(&all.to_json())?);
    } else {
        print!("{}", results.table());
        for p in &pairwise.pairs {
            let ci = p.a_win_rate_ci95.map_or_else(|| "-".to_string(), |[lo, hi]| format!("[{lo:.3}, {hi:.3}]"));
            println!("pairwise {} vs {}: {} wins, {} ties, {} losses; win rate {:.3} {ci}", p.a, p.b, p.a_wins, p.ties, p.b_wins, p.a_win_rate);
        }
        if let Some(ranked) = &pairwise.bradley_terry {
            let list: Vec<String> = ranked.iter().map(|(r, s)| format!("{r} {s:+.3}")).collect();
            println!("Bradley-Terry log-strengths: {}", list.join(", "));
        }
        if let Some(note) = &pairwise.ranking_note {
            eprintln!("clinicbench: note: no ranking: {note}");
        }
        for (run, rates) in tags {
            let list: Vec<String> = rates.iter().map(|(t, r)| format!("{t} {:.0}%", 100.0 * r)).collect();
            if !list.is_empty() {
                println!("tags {run}: {}", list.join(", "));
            }
        }
        for d in &all.disagreements {
            let list: Vec<String> = d.ratings.iter().map(|(r, v)| format!("{r} {v}")).collect();
            println!("disagreement {} {} {}: {}", d.item, d.run, d.dimension, list.join(", "));
        }
        for n in &results.notes {
            eprintln!("clinicbench: note: {n}");
        }
    }
    Ok(true)
}
