//! The page's top component: it owns the state ([`Page`], handed to the sections through
//! context), starts the worker, takes files dropped on the page, and lays out the sections.

use super::benchmark::{first_task, task_takes_a_file, use_data, BenchmarkSection};
use super::compare::CompareSection;
use super::model::{load_model_files, InterruptedRun, ModelSection};
use super::results::{page_report, ResultsSection};
use super::review::ReviewWorkspace;
use super::run::RunSection;
use super::samples::SamplesSection;
use super::side_by_side::RunsSideBySide;
use super::speed::SpeedSection;
use super::state::Page;
use clinicbench::web::BackendChoice;
use leptos::prelude::*;

/// `?backend=webgpu` or `?backend=cpu` asks for a backend; without it the worker chooses.
fn backend_asked() -> (BackendChoice, Option<String>) {
    let requested = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .and_then(|q| q.trim_start_matches('?').split('&').find_map(|kv| kv.strip_prefix("backend=").map(str::to_string)));
    match BackendChoice::from_query(requested.as_deref()) {
        Ok(choice) => (choice, None),
        Err(note) => (BackendChoice::Auto, Some(note)),
    }
}

/// Files dropped anywhere on the page: a .gguf is a model, anything else the task's dataset.
fn take_dropped_files(page: Page, keep_model: RwSignal<bool>) {
    let Some(body) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.body()) else { return };
    let drop = gloo_events::EventListener::new_with_options(&body, "drop", gloo_events::EventListenerOptions::enable_prevent_default(), move |ev| {
        ev.prevent_default();
        let list = wasm_bindgen::JsCast::dyn_ref::<web_sys::DragEvent>(ev).and_then(|d| d.data_transfer()).and_then(|d| d.files());
        let files: Vec<web_sys::File> = list.map(|l| (0..l.length()).filter_map(|i| l.get(i)).collect()).unwrap_or_default();
        let Some(file) = files.first().cloned() else { return };
        if file.name().to_lowercase().ends_with(".gguf") {
            // Several .gguf files dropped together are a split model's parts.
            if !page.busy.get_untracked() && !page.running.get_untracked() {
                let models: Vec<web_sys::File> = files.into_iter().filter(|f| f.name().to_lowercase().ends_with(".gguf")).collect();
                load_model_files(page, models, keep_model.get_untracked());
            }
        } else if task_takes_a_file(page) {
            use_data(page, Some(file));
        } else {
            page.fail(format!("{}: choose a task that takes a dataset file first (the demo sets have their own data)", file.name()));
        }
    });
    let over = gloo_events::EventListener::new_with_options(&body, "dragover", gloo_events::EventListenerOptions::enable_prevent_default(), |ev| {
        ev.prevent_default()
    });
    // For the page's lifetime.
    drop.forget();
    over.forget();
}

#[component]
pub fn App() -> impl IntoView {
    let (choice, note) = backend_asked();
    let page = Page::new(first_task(), note);
    provide_context(page);
    super::worker::start(page, choice);
    super::offline::start(page.offline);
    let keep_model = RwSignal::new(false);
    take_dropped_files(page, keep_model);
    // This page's run as a report, kept current for the side-by-side and review sections.
    let page_run = Signal::derive(move || {
        page.results.track();
        page.samples.track();
        page.model.track();
        page_report(page)
    });
    let set_error = page.error.write_only();
    view! {
        <header>
            <h1>"ClinicBench Web"</h1>
            <p class="tagline">"Medical language models evaluated on this device. Nothing you load leaves it."</p>
        </header>
        <p class="status" id="status" role="status" aria-live="polite">{move || page.status.get()}</p>
        <Show when=move || page.error.with(Option::is_some)>
            <p class="error" id="error" role="alert">{move || page.error.get().unwrap_or_default()}</p>
        </Show>
        <super::offline::NewerBuild/>
        <InterruptedRun/>
        <ModelSection keep_model/>
        <BenchmarkSection/>
        <RunSection/>
        <ResultsSection/>
        <CompareSection/>
        <RunsSideBySide current=page_run set_error/>
        <ReviewWorkspace page_run set_error/>
        <SpeedSection/>
        <SamplesSection/>
    }
}
