//! The Benchmark section: the task (the demo sets first), its dataset file picked or dropped and
//! previewed, the run's settings, and Start, Pause, Resume, Cancel.

use super::checkpoint::{save_run, RunMeta};
use super::state::{page, Page};
use super::worker::send;
use clinicbench::tasks::TaskSpec;
use clinicbench::web::{RunRequest, Session, ToWorker};
use leptos::prelude::*;
use std::cell::RefCell;

thread_local! {
    /// The dataset file picked for the selected task.
    static DATA_FILE: RefCell<Option<web_sys::File>> = const { RefCell::new(None) };
}

fn find_spec(name: &str) -> Option<TaskSpec> {
    clinicbench::tasks::spec::find(name)
}

/// The task the page shows first: the first demo set.
pub fn first_task() -> String {
    let specs = Session::tasks();
    specs.iter().find(|s| s.group.as_deref() == Some("demo")).or(specs.first()).map(|s| s.name.clone()).unwrap_or_default()
}

/// A dataset file, picked or dropped: remembered for the run, and previewed now.
pub fn use_data(page: Page, file: Option<web_sys::File>) {
    page.preview.set(None);
    page.data_name.set(file.as_ref().map(|f| f.name()));
    if let Some(f) = &file {
        send(&ToWorker::Preview { task: page.task.get_untracked(), data_file: f.name() }, Some(f.as_ref()));
    }
    DATA_FILE.with(|d| *d.borrow_mut() = file);
}

/// Whether the selected task takes a dataset file (the demo sets have theirs built in).
pub fn task_takes_a_file(page: Page) -> bool {
    find_spec(&page.task.get_untracked()).is_some_and(|s| !s.is_builtin_data())
}

/// The task list, grouped by scenario, the demo sets first.
fn task_options() -> impl IntoView {
    let mut groups: Vec<(String, Vec<TaskSpec>)> = Vec::new();
    for s in Session::tasks() {
        let g = if s.group.as_deref() == Some("demo") { "demo (built in)".to_string() } else { s.scenario.clone() };
        match groups.iter_mut().find(|x| x.0 == g) {
            Some(x) => x.1.push(s),
            None => groups.push((g, vec![s])),
        }
    }
    groups.sort_by_key(|(g, _)| !g.starts_with("demo"));
    groups
        .into_iter()
        .map(|(g, list)| {
            view! {
                <optgroup label=g>
                    {list
                        .into_iter()
                        .map(|s| {
                            let label = format!("{} — {} ({})", s.name, s.task, s.metrics.join(", "));
                            view! { <option value=s.name.clone()>{label}</option> }
                        })
                        .collect_view()}
                </optgroup>
            }
        })
        .collect_view()
}

/// `?batch=N`: documents a generation task generates together on the CPU (1 to 64; 1 is one at
/// a time), instead of the engine's default.
fn asked_batch() -> Option<usize> {
    let query = web_sys::window()?.location().search().ok()?;
    query.trim_start_matches('?').split('&').find_map(|kv| kv.strip_prefix("batch="))?.parse().ok()
}

#[component]
pub fn BenchmarkSection() -> impl IntoView {
    let page = page();
    let shots = RwSignal::new(0usize);
    let limit = RwSignal::new(Some(5usize));
    let seed = RwSignal::new(1234u64);
    let max_new = RwSignal::new(None::<usize>);
    let chat = RwSignal::new(false);
    let spec_of_task = move || find_spec(&page.task.get());
    let start = move |_| {
        page.error.set(None);
        let name = page.task.get();
        page.samples.update(|v| v.retain(|s| s.task != name));
        let builtin = find_spec(&name).is_some_and(|s| s.is_builtin_data());
        let req = RunRequest {
            task: name,
            data_file: if builtin { None } else { page.data_name.get() },
            shots: shots.get(),
            limit: limit.get(),
            seed: seed.get(),
            max_new_tokens: max_new.get(),
            chat_template: chat.get(),
            previous: vec![],
            batch: asked_batch(),
        };
        let file = if req.data_file.is_some() { DATA_FILE.with(|d| d.borrow().clone()) } else { None };
        let model = page.model.get_untracked();
        let meta = RunMeta {
            id: format!("{:015}-{}", js_sys::Date::now() as u64, req.task),
            request: req.clone(),
            model_name: model.as_ref().map(|m| m.file_name.clone()).unwrap_or_default(),
            model_sha256: model.as_ref().map(|m| m.sha256.clone()).unwrap_or_default(),
            adapters: model.map(|m| m.adapters).unwrap_or_default(),
            finished: false,
        };
        save_run(meta.clone(), file.clone().map(Into::into), move |e| page.error.set(Some(e)));
        page.current_run.set(Some(meta));
        send(&ToWorker::Run(req), file.as_ref().map(|f| f.as_ref()));
    };
    view! {
        <section id="benchmark">
            <h2>"Benchmark"</h2>
            <div class="row">
                <select id="task" data-testid="task" aria-label="Task" on:change=move |ev| {
                    // A dataset file belongs to the task it was chosen for.
                    page.task.set(event_target_value(&ev));
                    page.data_name.set(None);
                    page.preview.set(None);
                    DATA_FILE.with(|d| *d.borrow_mut() = None);
                }>{task_options()}</select>
            </div>
            {move || spec_of_task().map(|s| view! {
                <p class="task-info">
                    {format!("{} · {} · {} · data: {} · licence: {}", s.scenario, s.task, s.metrics.join(", "), s.dataset, s.licence)}
                </p>
                <Show when=move || !s.is_builtin_data()>
                    <label>"Dataset file (" {spec_of_task().map(|s| s.path).unwrap_or_default()} ") "
                        <input type="file" id="data-file" data-testid="dataset-file" on:change=move |ev| use_data(page, super::files::picked(&ev).into_iter().next())/>
                    </label>
                    <span class="muted">" (or drop it on the page)"</span>
                </Show>
            })}
            {move || page.preview.get().map(|p| view! {
                <div id="data-preview">
                    <p>{format!("{}: {}, {} records{}", p.file, p.format, p.records, if p.bad_rows.is_empty() { String::new() } else { format!(", {} bad rows (first: {})", p.bad_rows.len(), p.bad_rows[0]) })}</p>
                    {p.first.into_iter().map(|t| view! { <pre class="prompt">{t}</pre> }).collect_view()}
                </div>
            })}
            <div class="row settings">
                <label>"Shots " <input type="number" id="shots" data-testid="shots" min="0" max="5" prop:value=move || shots.get().to_string() on:input=move |ev| shots.set(event_target_value(&ev).parse().unwrap_or(0))/></label>
                <label>"Limit " <input type="number" id="limit" data-testid="limit" min="1" prop:value=move || limit.get().map(|l| l.to_string()).unwrap_or_default() on:input=move |ev| limit.set(event_target_value(&ev).parse().ok())/></label>
                <label>"Seed " <input type="number" id="seed" prop:value=move || seed.get().to_string() on:input=move |ev| seed.set(event_target_value(&ev).parse().unwrap_or(1234))/></label>
                <label>"Max new tokens " <input type="number" id="max-new" min="1" placeholder="task default" on:input=move |ev| max_new.set(event_target_value(&ev).parse().ok())/></label>
                <label><input type="checkbox" id="chat" on:change=move |ev| chat.set(event_target_checked(&ev))/>" chat template"</label>
            </div>
            <div class="row">
                <button id="start" data-testid="run" on:click=start disabled=move || page.model.with(Option::is_none) || page.running.get()>"Start"</button>
                <Show when=move || page.running.get() && !page.paused.get()>
                    <button id="pause" data-testid="pause" on:click=move |_| send(&ToWorker::Pause, None)>"Pause"</button>
                </Show>
                <Show when=move || page.running.get() && page.paused.get()>
                    <button id="resume" on:click=move |_| { page.paused.set(false); send(&ToWorker::Resume, None) }>"Resume"</button>
                </Show>
                <Show when=move || page.running.get()>
                    <button id="cancel" on:click=move |_| send(&ToWorker::Cancel, None)>"Cancel"</button>
                </Show>
            </div>
        </section>
    }
}
