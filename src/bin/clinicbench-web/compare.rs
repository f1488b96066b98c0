//! "Compare with another run": a run imported (a page export, or a CLI run's results.json with
//! its samples.jsonl) paired document by document with this page's run, each task's difference
//! with its interval and paired test. Tasks run on different data files are not paired.

use super::files::{picked, read_texts};
use super::state::page;
use clinicbench::metrics::PairedTest;
use clinicbench::report::{RunReport, TaskProvenance, TaskResult};
use clinicbench::tasks::Sample;
use leptos::prelude::*;

#[component]
pub fn CompareSection() -> impl IntoView {
    let page = page();
    let (baseline, set_baseline) = signal(None::<(String, RunReport)>);
    let (notes, set_notes) = signal(Vec::<String>::new());
    let import = move |ev: leptos::ev::Event| {
        let files = picked(&ev);
        if files.is_empty() {
            return;
        }
        leptos::task::spawn_local(async move {
            let read = match read_texts(&files).await {
                Ok(r) => r,
                Err(e) => return page.fail(e),
            };
            let parts: Vec<(&str, &[u8])> = read.iter().map(|(n, t)| (n.as_str(), t.as_bytes())).collect();
            let label = read.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(" + ");
            match clinicbench::report::import_files(&parts) {
                Ok(imported) if imported.report.samples.is_empty() => {
                    page.fail(format!("{label}: a run without samples: pick its samples.jsonl with its results.json to compare document by document"))
                }
                Ok(imported) => {
                    set_notes.set(imported.notes);
                    set_baseline.set(Some((label, imported.report)));
                }
                Err(e) => page.fail(e.to_string()),
            }
        });
    };
    let comparison = move || {
        let (name, base) = baseline.get()?;
        // Tasks run on different data files are not paired.
        let ours: Vec<(TaskResult, TaskProvenance)> = page.results.get();
        let refused: Vec<(String, String)> = ours
            .iter()
            .filter_map(|(r, p)| Some((r.task.clone(), clinicbench::report::unpairable(base.provenance.tasks.get(&r.task), Some(p))?)))
            .collect();
        let keep = |s: &&Sample| !refused.iter().any(|(t, _)| *t == s.task);
        let a: Vec<Sample> = base.samples.iter().filter(keep).cloned().collect();
        let b: Vec<Sample> = page.samples.with(|v| v.iter().filter(keep).cloned().collect());
        Some(clinicbench::tasks::compare_runs(&a, &b, &clinicbench::tasks::spec::find).map(|compared| (name, refused, compared)))
    };
    view! {
        <section id="compare">
            <h2>"Compare with another run"</h2>
            <label>"A run exported as JSON, or a CLI run's results.json with its samples.jsonl "
                <input type="file" id="import-run" multiple accept=".json,.jsonl,application/json" on:change=import/></label>
            {move || notes.get().into_iter().map(|n| view! { <p class="muted">{n}</p> }).collect_view()}
            <ErrorBoundary fallback=|errors| view! {
                <p class="error">{move || errors.get().into_iter().map(|(_, e)| e.to_string()).collect::<Vec<_>>().join("; ")}</p>
            }>
                {move || comparison().map(|r| r.map(|(name, refused, (rows, unpaired))| view! {
                    <p>{format!("{name} (a) against this page's run (b): documents paired by task and id; {unpaired} in one run only.")}</p>
                    {refused.into_iter().map(|(t, why)| view! { <p class="muted">{format!("{t}: not paired: {why}.")}</p> }).collect_view()}
                    <table id="compare-table">
                        <thead><tr><th>"task"</th><th>"metric"</th><th>"n"</th><th>"a"</th><th>"b"</th><th>"b - a"</th><th>"95% interval"</th><th>"p"</th><th>"test"</th></tr></thead>
                        <tbody>{rows.into_iter().map(|r| {
                            let c = r.comparison;
                            let ci = c.delta_ci95.map_or("-".to_string(), |[lo, hi]| format!("[{lo:.3}, {hi:.3}]"));
                            let test = match c.test { PairedTest::McnemarExact => "exact McNemar", PairedTest::PairedBootstrap => "paired bootstrap" };
                            view! { <tr><td>{r.task}</td><td>{c.metric.name()}</td><td>{c.n}</td><td>{format!("{:.4}", c.a)}</td><td>{format!("{:.4}", c.b)}</td><td>{format!("{:+.4}", c.delta)}</td><td>{ci}</td><td>{format!("{:.4}", c.p_value)}</td><td>{test}</td></tr> }
                        }).collect_view()}</tbody>
                    </table>
                }))}
            </ErrorBoundary>
        </section>
    }
}
