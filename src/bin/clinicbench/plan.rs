//! `clinicbench plan` and `eval --plan`: a grid of models × tasks × shards for a scheduler that
//! already exists (a Kubernetes Indexed Job, a Slurm job array). The plan is a file; each job is
//! `clinicbench eval --plan plan.json` with its index from the scheduler's environment; results
//! land in `RESULTS/<model>/<task>/shard-<i>`, and `clinicbench merge` puts them together. We
//! write no scheduler.

use super::eval::{self, EvalArgs, PromptSettings, TaskSelection};
use anyhow::{bail, Context, Result};
use clap::Args;
use clinicbench::tasks::Shard;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The plan format this build writes and reads.
const PLAN_VERSION: u32 = 1;

/// The largest plan file read (a plan of thousands of jobs is a few hundred KB).
const MAX_PLAN_BYTES: u64 = 16 << 20;

#[derive(Args)]
pub struct PlanArgs {
    /// The models, comma-separated, by the paths the jobs will see (absolute paths, or paths in
    /// the job's container; relative ones are taken from each job's working directory). Task
    /// spec files and the data root are also given as the jobs will see them.
    #[arg(long, value_delimiter = ',', required = true)]
    pub models: Vec<PathBuf>,
    #[command(flatten)]
    pub selection: TaskSelection,
    /// Shards per task.
    #[arg(long, default_value_t = 1)]
    pub shards: usize,
    /// Folder the jobs write into, as they will see it (a shared volume).
    #[arg(long)]
    pub results: PathBuf,
    #[command(flatten)]
    pub prompts: PromptSettings,
    /// The plan file to write.
    #[arg(long)]
    pub out: PathBuf,
}

/// Models × tasks × shards and the settings every job shares.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub version: u32,
    pub models: Vec<PlanModel>,
    pub tasks: Vec<String>,
    pub shards: usize,
    /// `RESULTS/<model label>/<task>/shard-<i>`.
    pub results: PathBuf,
    pub data_root: PathBuf,
    #[serde(default)]
    pub spec: Vec<PathBuf>,
    pub prompts: PromptSettings,
    /// models × tasks × shards: indexes run from 0 to jobs - 1.
    pub jobs: usize,
}

/// A model of the plan, and the folder name its results go under.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanModel {
    pub path: PathBuf,
    pub label: String,
}

/// One job: which model, task and shard, and where its results go.
#[derive(Debug, Clone)]
pub struct Job<'a> {
    pub model: &'a PlanModel,
    pub task: &'a str,
    pub shard: Shard,
    pub out: PathBuf,
}

impl Plan {
    /// Job `index`, enumerating models, then tasks, then shards (shard fastest).
    pub fn job(&self, index: usize) -> Option<Job<'_>> {
        if index >= self.jobs || self.tasks.is_empty() || self.shards == 0 {
            return None;
        }
        let per_model = self.tasks.len() * self.shards;
        let model = self.models.get(index / per_model)?;
        let task = self.tasks.get(index / self.shards % self.tasks.len())?;
        let shard = Shard::new(index % self.shards, self.shards).ok()?;
        let out = self.model_results(model).join(task).join(format!("shard-{}", shard.index));
        Some(Job { model, task, shard, out })
    }

    /// Where a model's results go: every task and shard of it below.
    pub fn model_results(&self, model: &PlanModel) -> PathBuf {
        self.results.join(&model.label)
    }

    /// Reads and checks a plan file.
    pub fn read(path: &Path) -> Result<Plan> {
        let len = std::fs::metadata(path).with_context(|| format!("cannot read plan {}", path.display()))?.len();
        if len > MAX_PLAN_BYTES {
            bail!("{}: {len} bytes is more than a plan may hold ({MAX_PLAN_BYTES} bytes)", path.display());
        }
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read plan {}", path.display()))?;
        let plan: Plan = serde_json::from_str(&text).with_context(|| format!("{}: not a clinicbench plan", path.display()))?;
        if plan.version != PLAN_VERSION {
            bail!("{}: plan version {} (this clinicbench reads version {PLAN_VERSION})", path.display(), plan.version);
        }
        let expected = plan.models.len() * plan.tasks.len() * plan.shards;
        if plan.jobs != expected || expected == 0 {
            bail!(
                "{}: the plan says {} jobs, but {} models × {} tasks × {} shards make {expected}",
                path.display(),
                plan.jobs,
                plan.models.len(),
                plan.tasks.len(),
                plan.shards
            );
        }
        Ok(plan)
    }
}

/// A folder name for a model: its file stem, with anything but letters, digits, `.`, `-` and
/// `_` replaced, made unique among the plan's models.
fn labels(models: &[PathBuf]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in models {
        let stem = m.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let mut base: String =
            stem.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
        if base.is_empty() || base.starts_with('.') {
            base = format!("model{base}");
        }
        let mut label = base.clone();
        let mut k = 2;
        while out.contains(&label) {
            label = format!("{base}-{k}");
            k += 1;
        }
        out.push(label);
    }
    out
}

pub fn plan(args: &PlanArgs) -> Result<bool> {
    if args.shards == 0 {
        bail!("--shards: at least 1");
    }
    let t = &args.selection;
    let specs = eval::selected_tasks(None, &t.tasks, t.suite.as_ref(), &t.spec, &t.data_root)?;
    let tasks: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    let models = args.models.iter().zip(labels(&args.models)).map(|(path, label)| PlanModel { path: path.clone(), label }).collect::<Vec<_>>();
    let jobs = models.len() * tasks.len() * args.shards;
    let plan = Plan {
        version: PLAN_VERSION,
        models,
        tasks,
        shards: args.shards,
        results: args.results.clone(),
        data_root: t.data_root.clone(),
        spec: t.spec.clone(),
        prompts: args.prompts.clone(),
        jobs,
    };
    let text = serde_json::to_string_pretty(&plan)? + "\n";
    eval::write_atomically(&args.out, text.as_bytes())?;
    eprintln!(
        "clinicbench: {} jobs ({} models × {} tasks × {} shards): indexes 0..={}; Kubernetes: completions {jobs}; Slurm: --array=0-{}",
        jobs,
        plan.models.len(),
        plan.tasks.len(),
        plan.shards,
        jobs - 1,
        jobs - 1
    );
    println!("{jobs}");
    Ok(true)
}

/// The scheduler's index: `--index`, else `JOB_COMPLETION_INDEX` (Kubernetes), else
/// `SLURM_ARRAY_TASK_ID` (Slurm).
fn job_index(given: Option<usize>) -> Result<usize> {
    if let Some(i) = given {
        return Ok(i);
    }
    for var in ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"] {
        if let Ok(v) = std::env::var(var) {
            return v.trim().parse().with_context(|| format!("${var} is {v:?}, not a job index"));
        }
    }
    bail!("--plan: which job? give --index I, or run under a Kubernetes Indexed Job ($JOB_COMPLETION_INDEX) or a Slurm job array ($SLURM_ARRAY_TASK_ID)")
}

/// The `eval` a plan's job stands for. A job whose earlier attempt was killed continues from the
/// samples it left (`--resume`): the plan fixes every setting, so they are the same.
pub fn job_args(plan_path: &Path, args: &EvalArgs) -> Result<EvalArgs> {
    let index = job_index(args.index)?;
    let plan = Plan::read(plan_path)?;
    let job = plan.job(index).ok_or_else(|| {
        anyhow::anyhow!("{}: job index {index} is out of range: the plan has {} jobs (0..={})", plan_path.display(), plan.jobs, plan.jobs.saturating_sub(1))
    })?;
    eprintln!("clinicbench: job {index} of {}: {} on {} shard {}", plan.jobs, job.task, job.model.label, job.shard);
    let resume = job.out.join("samples.jsonl.partial").exists();
    Ok(EvalArgs {
        model: Some(job.model.path.clone()),
        engine: args.engine.clone(),
        plan: None,
        index: None,
        task: Some(job.task.to_string()),
        selection: TaskSelection { tasks: vec![], suite: None, spec: plan.spec.clone(), data_root: plan.data_root.clone() },
        data: None,
        prompts: plan.prompts.clone(),
        strict: args.strict,
        shard: Some(job.shard),
        out: Some(job.out.clone()),
        log_format: args.log_format,
        resume,
        batch: args.batch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_enumerate_models_then_tasks_then_shards() {
        let plan = Plan {
            version: PLAN_VERSION,
            models: labels(&["a/m.gguf".into(), "b/m.gguf".into()])
                .into_iter()
                .map(|label| PlanModel { path: "x".into(), label })
                .collect(),
            tasks: vec!["t1".into(), "t2".into(), "t3".into()],
            shards: 2,
            results: "R".into(),
            data_root: "D".into(),
            spec: vec![],
            prompts: PromptSettings { shots: 0, limit: None, sample: None, seed: 1, chat_template: false, max_new_tokens: None },
            jobs: 12,
        };
        assert_eq!(plan.models[1].label, "m-2", "labels are unique");
        let j = plan.job(7).unwrap();
        assert_eq!((j.model.label.as_str(), j.task, j.shard), ("m-2", "t1", Shard { index: 1, count: 2 }));
        assert_eq!(j.out, PathBuf::from("R/m-2/t1/shard-1"));
        let all: std::collections::BTreeSet<_> = (0..12).map(|i| plan.job(i).unwrap().out).collect();
        assert_eq!(all.len(), 12, "every index its own folder");
        assert!(plan.job(12).is_none());
    }
}
