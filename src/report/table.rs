//! A run as a text table for the terminal: a row per task and metric, grouped by scenario in
//! the paper's order.

use super::RunReport;
use crate::tasks::TaskSpec;

/// The paper's scenarios, in its order.
pub const SCENARIOS: [&str; 3] = ["reasoning", "generation", "understanding"];

/// A scenario's place in [`SCENARIOS`] (unknown ones last).
pub fn scenario_rank(s: &str) -> usize {
    SCENARIOS.iter().position(|x| *x == s).unwrap_or(SCENARIOS.len())
}

/// The table `clinicbench eval` prints: scenario, task, metric, value, 95% interval, n and
/// unparsed answers. Metrics follow each task's spec (found by `spec_of`); a task whose spec is
/// unknown shows the scores it has.
pub fn run_table(report: &RunReport, spec_of: &dyn Fn(&str) -> Option<TaskSpec>) -> String {
    let mut out = format!(
        "{:<14} {:<34} {:<10} {:>8} {:>19} {:>6} {:>8}\n",
        "scenario", "task", "metric", "value", "95% interval", "n", "unparsed"
    );
    let mut rows: Vec<(&super::TaskResult, Option<TaskSpec>)> = report.results.iter().map(|r| (r, spec_of(&r.task))).collect();
    let scenario = |r: &super::TaskResult, s: &Option<TaskSpec>| {
        s.as_ref().map(|s| s.scenario.clone()).or_else(|| r.scenario.clone()).unwrap_or_else(|| "-".into())
    };
    rows.sort_by_key(|(r, s)| scenario_rank(&scenario(r, s)));
    for (r, spec) in &rows {
        let sc = scenario(r, spec);
        let metrics = spec.as_ref().map_or_else(|| r.scores.iter().map(|s| s.metric).collect(), TaskSpec::metric_list);
        let mut printed = false;
        for metric in metrics {
            let Some(score) = r.score(metric) else { continue };
            let ci = score.ci95.map_or_else(|| "-".to_string(), |[lo, hi]| format!("[{lo:.3}, {hi:.3}]"));
            out += &format!(
                "{sc:<14} {:<34} {:<10} {:>8.4} {ci:>19} {:>6} {:>8}\n",
                r.task,
                metric.name(),
                score.value,
                r.n,
                r.unparsed
            );
            printed = true;
        }
        if !printed {
            out += &format!("{sc:<14} {:<34} {:<10} {:>8} {:>19} {:>6} {:>8}\n", r.task, "-", "-", "no samples", r.n, "-");
        }
    }
    out
}
