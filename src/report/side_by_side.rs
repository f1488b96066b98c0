//! Many runs side by side, as the paper's tables: runs as rows, tasks as columns grouped by
//! scenario, each cell the task's headline metric (its spec's first) with its interval, a mean
//! per scenario, and against a baseline run each cell's paired test on the documents both runs
//! scored (exact McNemar for accuracy, paired bootstrap otherwise), with Holm's correction across
//! the table. Runs on different data files, or other versions of a task, are not paired, and
//! the cell says why.

use super::table::scenario_rank;
use super::{unpairable, RunReport};
use crate::metrics::{Comparison, Metric, Score};
use crate::tasks::{Sample, TaskSpec};
use serde::Serialize;

/// A run and where it came from.
#[derive(Debug, Clone)]
pub struct NamedRun {
    /// The path or file name it was read from.
    pub source: String,
    pub report: RunReport,
}

/// The table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideBySide {
    pub runs: Vec<RunRow>,
    /// Task columns, by scenario in the paper's order.
    pub tasks: Vec<TaskColumn>,
    /// Scenarios present, in the paper's order.
    pub scenarios: Vec<String>,
    /// The baseline's row, if one was given.
    pub baseline: Option<usize>,
    /// `cells[run][task]`.
    pub cells: Vec<Vec<Cell>>,
    /// `means[run][scenario]`: the mean of the run's headline values (each on a 0-1 scale)
    /// over the scenario's tasks it has, and how many of them.
    pub means: Vec<Vec<Option<ScenarioMean>>>,
    /// Paired tests in the table (Holm's m).
    pub tests: usize,
}

/// A run's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRow {
    /// The model, and what sets this run apart from others of the same model.
    pub label: String,
    pub model: String,
    pub model_sha256: String,
    /// The LoRA adapters over the model, each `name ×scale (SHA-256 ...)`, `; `-separated
    /// (empty without adapters).
    pub adapters: String,
    pub source: String,
}

/// A task's column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskColumn {
    pub task: String,
    pub scenario: String,
    /// The metric the column shows.
    pub metric: Metric,
}

/// One run on one task.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Cell {
    /// `None`: the run has no result for the task.
    pub score: Option<Score>,
    /// Against the baseline (absent in the baseline's row and where the run has no result).
    pub versus: Option<Versus>,
}

/// A cell against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Versus {
    /// The paired test on the documents both runs scored, `a` the baseline and `b` this run.
    Paired {
        #[serde(flatten)]
        comparison: Comparison,
        /// Holm-adjusted p-value across the table's paired tests.
        p_holm: f64,
    },
    /// Why there is no paired test.
    NotPaired { reason: String },
}

/// A scenario's mean for a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScenarioMean {
    pub value: f64,
    /// Tasks of the scenario the run has, of those in the table.
    pub tasks: usize,
    pub of: usize,
}

/// Builds the table; `baseline` is a row of `runs`. `spec_of` finds a task's spec (its scenario
/// and headline metric; a task without one keeps the scenario its results name).
pub fn side_by_side(runs: &[NamedRun], baseline: Option<usize>, spec_of: &dyn Fn(&str) -> Option<TaskSpec>) -> SideBySide {
    // Columns: every task of every run, by scenario, then in the order first met.
    let mut tasks: Vec<TaskColumn> = Vec::new();
    for run in runs {
        for r in &run.report.results {
            if tasks.iter().any(|t| t.task == r.task) {
                continue;
            }
            let spec = spec_of(&r.task);
            let Some(metric) = r.headline(spec.as_ref()).map(|s| s.metric) else { continue };
            let scenario = spec.map(|s| s.scenario).or_else(|| r.scenario.clone()).unwrap_or_else(|| "other".into());
            tasks.push(TaskColumn { task: r.task.clone(), scenario, metric });
        }
    }
    tasks.sort_by_key(|t| scenario_rank(&t.scenario)); // stable: first-met order within a scenario
    let mut scenarios: Vec<String> = Vec::new();
    for t in &tasks {
        if !scenarios.contains(&t.scenario) {
            scenarios.push(t.scenario.clone());
        }
    }
    let mut cells: Vec<Vec<Cell>> = runs
        .iter()
        .map(|run| {
            tasks.iter().map(|t| Cell { score: run.report.result(&t.task).and_then(|r| r.score(t.metric)).cloned(), versus: None }).collect()
        })
        .collect();
    if let Some(b) = baseline {
        for (i, run) in runs.iter().enumerate() {
            if i == b {
                continue;
            }
            for (j, t) in tasks.iter().enumerate() {
                if cells[i][j].score.is_none() {
                    continue;
                }
                cells[i][j].versus = Some(versus(&runs[b], run, t, spec_of));
            }
        }
    }
    // Holm across every paired test of the table.
    let mut where_: Vec<(usize, usize)> = Vec::new();
    let mut p = Vec::new();
    for (i, row) in cells.iter().enumerate() {
        for (j, c) in row.iter().enumerate() {
            if let Some(Versus::Paired { comparison, .. }) = &c.versus {
                where_.push((i, j));
                p.push(comparison.p_value);
            }
        }
    }
    for ((i, j), adj) in where_.iter().zip(crate::metrics::holm(&p)) {
        if let Some(Versus::Paired { p_holm, .. }) = &mut cells[*i][*j].versus {
            *p_holm = adj;
        }
    }
    let means = cells
        .iter()
        .map(|row| {
            scenarios
                .iter()
                .map(|sc| {
                    let cols: Vec<usize> = (0..tasks.len()).filter(|&j| &tasks[j].scenario == sc).collect();
                    let vals: Vec<f64> = cols
                        .iter()
                        .filter_map(|&j| row[j].score.as_ref().map(|s| s.value / tasks[j].metric.range().1))
                        .collect();
                    (!vals.is_empty()).then(|| ScenarioMean { value: vals.iter().sum::<f64>() / vals.len() as f64, tasks: vals.len(), of: cols.len() })
                })
                .collect()
        })
        .collect();
    SideBySide { runs: rows(runs), tasks, scenarios, baseline, cells, means, tests: p.len() }
}

/// The baseline against a run on a task.
fn versus(base: &NamedRun, run: &NamedRun, column: &TaskColumn, spec_of: &dyn Fn(&str) -> Option<TaskSpec>) -> Versus {
    let not = |reason: String| Versus::NotPaired { reason };
    let task = column.task.as_str();
    if let Some(why) = unpairable(base.report.provenance.tasks.get(task), run.report.provenance.tasks.get(task)) {
        return not(why);
    }
    if base.report.result(task).and_then(|r| r.score(column.metric)).is_none() {
        return not("the baseline has no result for this task".into());
    }
    let samples = |r: &NamedRun| -> Vec<Sample> { r.report.samples_of(task).cloned().collect() };
    let (a, b) = (samples(base), samples(run));
    if a.is_empty() || b.is_empty() {
        let which = if a.is_empty() { "the baseline" } else { "this run" };
        return not(format!("{which} has no samples to pair (its results file came without them)"));
    }
    let spec = || spec_of(task);
    match crate::tasks::compare_runs(&a, &b, &|name| if name == task { spec() } else { None }) {
        Ok((comparisons, _)) => match comparisons.into_iter().find(|c| c.comparison.metric == column.metric) {
            Some(c) => Versus::Paired { comparison: c.comparison, p_holm: f64::NAN },
            None => not("no document scored in both runs".into()),
        },
        Err(e) => not(format!("cannot pair: {e}")),
    }
}

/// How tables name runs: the model, then what differs among runs of the same model, then the
/// source where nothing does.
pub fn run_labels(runs: &[NamedRun]) -> Vec<String> {
    rows(runs).into_iter().map(|r| r.label).collect()
}

/// Labels: the model, then what differs among runs of the same model.
fn rows(runs: &[NamedRun]) -> Vec<RunRow> {
    let base: Vec<String> = runs.iter().map(|r| r.report.provenance.model.label()).collect();
    let settings = |r: &RunReport| -> Vec<(&'static str, String)> {
        let tasks: Vec<&super::TaskProvenance> = r.provenance.tasks.values().collect();
        let one = |f: &dyn Fn(&super::TaskProvenance) -> String| -> String {
            let mut v: Vec<String> = tasks.iter().map(|t| f(t)).collect();
            v.dedup();
            if v.len() == 1 {
                v.remove(0)
            } else {
                "mixed".into()
            }
        };
        vec![
            ("file", r.provenance.model.file.rsplit(['/', '\\']).next().unwrap_or_default().to_string()),
            ("quantization", r.provenance.model.main_quantization().unwrap_or_default().to_string()),
            ("adapters", r.provenance.model.adapters_label()),
            ("shots", one(&|t| format!("{}-shot", t.shots))),
            ("chat template", one(&|t| if t.chat_template { "chat template".into() } else { "no chat template".into() })),
            ("seed", one(&|t| format!("seed {}", t.seed))),
            ("limit", one(&|t| t.limit.map_or("all documents".into(), |l| format!("limit {l}")))),
            ("max new tokens", one(&|t| t.max_new_tokens.map_or(String::new(), |m| format!("max {m} new tokens")))),
            ("backend", r.provenance.backend.clone()),
            ("engine", format!("clinicbench {}", r.provenance.engine_version)),
        ]
    };
    let all: Vec<Vec<(&'static str, String)>> = runs.iter().map(|r| settings(&r.report)).collect();
    let mut labels: Vec<String> = Vec::with_capacity(runs.len());
    for i in 0..runs.len() {
        let same: Vec<usize> = (0..runs.len()).filter(|&j| base[j] == base[i]).collect();
        let mut parts = vec![base[i].clone()];
        if same.len() > 1 {
            for (k, (_, value)) in all[i].iter().enumerate() {
                if same.iter().any(|&j| all[j][k].1 != *value) && !value.is_empty() {
                    parts.push(value.clone());
                }
            }
        }
        let mut label = parts.join(", ");
        // Still the same as another row: tell them apart by where they came from.
        if (0..i).any(|j| labels[j] == label) || (i + 1..runs.len()).any(|j| base[j] == base[i] && all[j] == all[i]) {
            let src = runs[i].source.trim_end_matches(['/', '\\']);
            label += &format!(" ({})", src.rsplit(['/', '\\']).next().unwrap_or(src));
        }
        labels.push(label);
    }
    runs.iter()
        .zip(labels)
        .map(|(r, label)| RunRow {
            label,
            model: r.report.provenance.model.label(),
            model_sha256: r.report.provenance.model.sha256.clone(),
            adapters: r.report.provenance.model.adapters.iter().map(|a| format!("{} (SHA-256 {})", a.label(), a.sha256)).collect::<Vec<_>>().join("; "),
            source: r.source.clone(),
        })
        .collect()
}

impl SideBySide {
    /// The scenario's columns.
    pub fn columns_of<'a>(&'a self, scenario: &'a str) -> impl Iterator<Item = (usize, &'a TaskColumn)> + 'a {
        self.tasks.iter().enumerate().filter(move |(_, t)| t.scenario == scenario)
    }

    /// The scenarios in the paper's order (those present).
    pub fn scenario_names(&self) -> &[String] {
        &self.scenarios
    }
}

/// A task's result as a short text: the value and its interval.
pub fn score_text(s: &Score) -> String {
    let digits = if s.metric == Metric::Bleu { 2 } else { 3 };
    match s.ci95 {
        Some([lo, hi]) => format!("{:.*} [{:.*}, {:.*}]", digits, s.value, digits, lo, digits, hi),
        None => format!("{:.*}", digits, s.value),
    }
}
