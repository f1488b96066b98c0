//! The page's "Runs side by side": exported runs (from this browser, other devices, or the
//! CLI) imported together with this page's run, shown as the CLI's `report` shows them — tasks
//! by scenario, intervals, paired tests against a chosen baseline with Holm's correction — and a
//! chart per task. Nothing leaves the browser; every text from a file is rendered as text.

use clinicbench::report::render::{p_text, render, Format};
use clinicbench::report::side_by_side::{score_text, side_by_side, NamedRun, SideBySide, Versus};
use clinicbench::report::{import_files, RunReport};
use leptos::prelude::*;

/// Picked files as runs: one results.json with its samples.jsonl is one run; otherwise each
/// JSON file (a page export) is a run of its own.
pub(crate) fn runs_from_files(files: &[(String, String)]) -> Result<(Vec<NamedRun>, Vec<String>), String> {
    let (jsonl, json): (Vec<&(String, String)>, Vec<&(String, String)>) = files.iter().partition(|(n, _)| n.ends_with(".jsonl"));
    let groups: Vec<Vec<&(String, String)>> = match (json.len(), jsonl.len()) {
        (1, 1) => vec![vec![json[0], jsonl[0]]],
        (_, 0) => json.into_iter().map(|f| vec![f]).collect(),
        _ => return Err("pick page exports, or one run's results.json with its samples.jsonl".into()),
    };
    let mut runs = Vec::new();
    let mut notes = Vec::new();
    for g in groups {
        let parts: Vec<(&str, &[u8])> = g.iter().map(|(n, t)| (n.as_str(), t.as_bytes())).collect();
        let imported = import_files(&parts).map_err(|e| e.to_string())?;
        notes.extend(imported.notes);
        let source = g.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(" + ");
        runs.push(NamedRun { source, report: imported.report });
    }
    Ok((runs, notes))
}

/// A horizontal bar chart of one task: a bar per run, its interval as a whisker.
fn task_chart(t: &SideBySide, column: usize) -> impl IntoView {
    let c = &t.tasks[column];
    let scale = c.metric.range().1;
    let (label_w, bar_w, row_h) = (220.0, 260.0, 22.0);
    let height = row_h * t.runs.len() as f64 + 6.0;
    let x = move |v: f64| label_w + (v / scale).clamp(0.0, 1.0) * bar_w;
    let rows = t
        .runs
        .iter()
        .enumerate()
        .map(|(i, run)| {
            let y = 4.0 + row_h * i as f64;
            let score = t.cells[i][column].score.clone();
            let label: String = run.label.chars().take(34).collect();
            let bar = score.as_ref().map(|s| {
                let whisker = s.ci95.map(|[lo, hi]| {
                    view! { <line x1=x(lo) y1=y + 8.0 x2=x(hi) y2=y + 8.0 class="ci"/> }
                });
                view! {
                    <rect x=label_w y=y + 2.0 width=x(s.value) - label_w height=12 class="fill"/>
                    {whisker}
                    <text x=label_w + bar_w + 8.0 y=y + 12.0 class="value">{score_text(s)}</text>
                }
            });
            view! {
                <text x=0 y=y + 12.0 class="run">{label}</text>
                <rect x=label_w y=y + 2.0 width=bar_w height=12 class="track"/>
                {bar}
            }
        })
        .collect_view();
    let title = format!("{} ({})", c.task, c.metric.name());
    view! {
        <figure class="task-chart" data-testid="task-chart">
            <figcaption>{title.clone()}</figcaption>
            <svg width=label_w + bar_w + 190.0 height=height role="img" aria-label=title>{rows}</svg>
        </figure>
    }
}

/// The table of one scenario.
fn scenario_table(t: &SideBySide, si: usize) -> impl IntoView {
    let sc = t.scenarios[si].clone();
    let cols: Vec<usize> = t.columns_of(&sc).map(|(j, _)| j).collect();
    let head = cols.iter().map(|&j| view! { <th scope="col">{t.tasks[j].task.clone()}<br/><span class="muted">{t.tasks[j].metric.name()}</span></th> }).collect_view();
    let body = t
        .runs
        .iter()
        .enumerate()
        .map(|(i, run)| {
            let cells = cols
                .iter()
                .map(|&j| {
                    let cell = &t.cells[i][j];
                    let text = cell.score.as_ref().map_or_else(|| "–".to_string(), score_text);
                    let vs = cell.versus.as_ref().map(|v| match v {
                        Versus::Paired { comparison: c, p_holm } => view! {
                            <span class=if *p_holm < 0.05 { "vs sig" } else { "vs" }>
                                {format!("{:+.3} (n = {}), p = {}, Holm p = {}", c.delta, c.n, p_text(c.p_value), p_text(*p_holm))}
                            </span>
                        }
                        .into_any(),
                        Versus::NotPaired { reason } => view! { <span class="vs np">{format!("not paired: {reason}")}</span> }.into_any(),
                    });
                    view! { <td>{text}{vs}</td> }
                })
                .collect_view();
            let mean = t.means[i][si].map_or_else(|| "–".to_string(), |m| format!("{:.3} ({} of {})", m.value, m.tasks, m.of));
            let base = if t.baseline == Some(i) { " (baseline)" } else { "" };
            view! { <tr><th scope="row">{format!("{}{base}", run.label)}</th>{cells}<td>{mean}</td></tr> }
        })
        .collect_view();
    view! {
        <h3>{sc.clone()}</h3>
        <table class="side-by-side" data-testid="side-by-side">
            <thead><tr><th scope="col">"run"</th>{head}<th scope="col">{format!("{sc} mean")}</th></tr></thead>
            <tbody>{body}</tbody>
        </table>
    }
}

/// The section. `current` is this page's run (empty until a task finishes).
#[component]
pub fn RunsSideBySide(current: Signal<RunReport>, set_error: WriteSignal<Option<String>>) -> impl IntoView {
    let (imported, set_imported) = signal(Vec::<NamedRun>::new());
    let (notes, set_notes) = signal(Vec::<String>::new());
    let (baseline, set_baseline) = signal(0usize);
    let runs = move || {
        let mut v = Vec::new();
        let here = current.get();
        if !here.results.is_empty() {
            v.push(NamedRun { source: "this page's run".into(), report: here });
        }
        v.extend(imported.get());
        v
    };
    let table = Memo::new(move |_| {
        let runs = runs();
        (!runs.is_empty()).then(|| side_by_side(&runs, Some(baseline.get().min(runs.len() - 1)), &clinicbench::tasks::spec::find))
    });
    let pick = move |ev: leptos::ev::Event| {
        let files = super::files::picked(&ev);
        leptos::task::spawn_local(async move {
            let read = match super::files::read_texts(&files).await {
                Ok(r) => r,
                Err(e) => return set_error.set(Some(e)),
            };
            match runs_from_files(&read) {
                Ok((runs, n)) => {
                    set_notes.update(|v| v.extend(n));
                    set_imported.update(|v| v.extend(runs));
                }
                Err(e) => set_error.set(Some(e)),
            }
        });
    };
    let download_html = move |_| {
        if let Some(t) = table.get_untracked() {
            super::files::download("clinicbench-report.html", &render(&t, Format::Html), "text/html");
        }
    };
    view! {
        <section id="side-by-side">
            <h2>"Runs side by side"</h2>
            <p class="muted">"Exported runs from this browser, other devices or the command line, with this page's run: each task's first metric with its 95% interval, and against the baseline the paired test on shared documents, Holm-adjusted across the table. Runs on different data files are not paired."</p>
            <div class="row">
                <label>"Runs (page exports, or a CLI results.json with its samples.jsonl) "
                    <input type="file" id="import-runs" data-testid="import-runs" multiple accept=".json,.jsonl,application/json" on:change=pick/>
                </label>
                <label>"Baseline "
                    <select id="baseline" aria-label="Baseline run" on:change=move |ev| set_baseline.set(event_target_value(&ev).parse().unwrap_or(0))>
                        {move || table.get().map(|t| t.runs.iter().enumerate().map(|(i, r)| {
                            view! { <option value=i.to_string() selected=move || baseline.get() == i>{r.label.clone()}</option> }
                        }).collect_view())}
                    </select>
                </label>
                <button id="clear-runs" on:click=move |_| { set_imported.set(vec![]); set_notes.set(vec![]); set_baseline.set(0); }>"Clear"</button>
                <button id="download-report" on:click=download_html disabled=move || table.get().is_none()>"Download HTML report"</button>
            </div>
            {move || notes.get().into_iter().map(|n| view! { <p class="muted">{n}</p> }).collect_view()}
            {move || table.get().map(|t| {
                let tables = (0..t.scenarios.len()).map(|si| scenario_table(&t, si)).collect_view();
                let charts = (0..t.tasks.len()).map(|j| task_chart(&t, j)).collect_view();
                view! { {tables}<div class="charts">{charts}</div> }
            })}
        </section>
    }
}
