//! The Results section: each task's scores with their intervals, and the run's exports (the
//! run report as JSON, the samples as CSV).

use super::files::download;
use super::samples::{correctness, gold_text, pred_text};
use super::state::{page, Page};
use clinicbench::report::{Host, RunReport};
use leptos::prelude::*;

/// The browser as the report's host: its user agent and the cores it reports.
fn browser_host() -> Host {
    let nav = web_sys::window().map(|w| w.navigator());
    Host {
        os: "browser".into(),
        arch: "wasm32".into(),
        cpus: nav.as_ref().map(|n| n.hardware_concurrency() as usize),
        user_agent: nav.and_then(|n| n.user_agent().ok()),
    }
}

/// This page's run as the one report type: what the CLI writes, plus the samples.
pub fn page_report(page: Page) -> RunReport {
    let loaded = page.model.get_untracked().map(|m| clinicbench::web::LoadedModel {
        file_name: m.file_name,
        sha256: m.sha256,
        card: m.card,
        backend: m.backend,
        chat_template_sha256: m.chat_template_sha256,
        adapters: m.adapters,
    });
    clinicbench::web::page_report(
        loaded.as_ref(),
        &page.results.get_untracked(),
        &page.samples.get_untracked(),
        browser_host(),
        (js_sys::Date::now() / 1000.0) as u64,
    )
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[component]
pub fn ResultsSection() -> impl IntoView {
    let page = page();
    let export_json = move |_| download("clinicbench-results.json", &page_report(page).export_json(), "application/json");
    let export_csv = move |_| {
        let mut out = String::from("task,doc_id,native_id,gold,prediction,correct\n");
        for s in page.samples.get_untracked() {
            let c = correctness(&s).map_or(String::new(), |b| b.to_string());
            out.push_str(&format!(
                "{},{},{},{},{},{}\n",
                csv_field(&s.task),
                s.doc_id,
                csv_field(&s.native_id),
                csv_field(&gold_text(&s)),
                csv_field(&pred_text(&s)),
                c
            ));
        }
        download("clinicbench-samples.csv", &out, "text/csv");
    };
    // A row per task and metric: (key, task, metric name, value, interval, n, unparsed, headline, scale).
    let rows = move || {
        page.results.with(|results| {
            results
                .iter()
                .flat_map(|(r, _)| {
                    let spec = clinicbench::tasks::spec::find(&r.task);
                    // The task's headline score (its spec's first metric) carries the test hook.
                    let headline = r.headline(spec.as_ref()).map(|s| s.metric);
                    let metrics = spec.map_or_else(|| r.scores.iter().map(|s| s.metric).collect(), |s| s.metric_list());
                    metrics
                        .into_iter()
                        .filter_map(|m| {
                            let score = r.score(m)?.clone();
                            let ci = score.ci95.map_or_else(|| "-".to_string(), |[lo, hi]| format!("[{lo:.3}, {hi:.3}]"));
                            let bar = (score.value / m.range().1).clamp(0.0, 1.0);
                            Some(((r.task.clone(), m.name(), score.value.to_bits(), r.n), r.task.clone(), m.name(), score.value, ci, r.n, r.unparsed, headline == Some(m), bar))
                        })
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        })
    };
    view! {
        <section id="results">
            <h2>"Results"</h2>
            <table id="results-table" data-testid="results">
                <thead><tr><th>"task"</th><th>"metric"</th><th>"value"</th><th>"95% interval"</th><th>"n"</th><th>"unparsed"</th><th></th></tr></thead>
                <tbody>
                    <For each=rows key=|r| r.0.clone() children=|(_, task, metric, v, ci, n, unparsed, headline, bar)| {
                        let testid = headline.then(|| format!("score-{task}"));
                        view! {
                            <tr><td>{task}</td><td>{metric}</td><td data-testid=testid>{format!("{v:.4}")}</td><td>{ci}</td><td>{n}</td><td>{unparsed}</td>
                            <td class="barcell"><meter class="bar" min="0" max="1" value=bar.to_string()></meter></td></tr>
                        }
                    }/>
                </tbody>
            </table>
            <div class="row">
                <button id="export-json" data-testid="export-json" on:click=export_json disabled=move || page.samples.with(Vec::is_empty)>"Export JSON"</button>
                <button id="export-csv" on:click=export_csv disabled=move || page.samples.with(Vec::is_empty)>"Export CSV"</button>
            </div>
        </section>
    }
}
