//! The Model section (the demo model, a GGUF file picked or dropped, or a URL; the model card;
//! the WebGPU check) and the notice of a run a reload interrupted.

use super::checkpoint::forget_run;
use super::state::{page, Page};
use super::worker::{model_file_sent, send};
use clinicbench::web::ToWorker;
use leptos::prelude::*;

/// The demo model, served beside the page by `scripts/run.sh`.
const DEMO_MODEL: &str = "models/demo.gguf";

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
}

/// Sends a model file to the worker (`keep`: also into this browser's storage); several files
/// are the parts of a split model, put in order by the worker (which names a missing one; a
/// split model is not kept).
pub fn load_model_files(page: Page, mut files: Vec<web_sys::File>, keep: bool) {
    page.error.set(None);
    if files.len() > 1 {
        page.busy.set(true);
        page.status.set(format!("Loading a model in {} parts…", files.len()));
        for file in &files {
            send(&ToWorker::ModelPart { file_name: file.name() }, Some(file));
        }
        send(&ToWorker::LoadModelParts, None);
        return;
    }
    let Some(file) = files.pop() else { return };
    page.busy.set(true);
    page.status.set(format!("Loading {}…", file.name()));
    send(&ToWorker::LoadModel { file_name: file.name(), keep }, Some(&file));
    model_file_sent(file);
}

#[component]
pub fn ModelSection(keep_model: RwSignal<bool>) -> impl IntoView {
    let page = page();
    let url = RwSignal::new(String::new());
    let idle = move || page.busy.get() || page.running.get();
    let load_demo = move |_| {
        page.error.set(None);
        page.busy.set(true);
        page.status.set("Loading the demo model…".into());
        send(&ToWorker::LoadUrl { url: DEMO_MODEL.into() }, None);
    };
    let load_file = move |ev: leptos::ev::Event| {
        load_model_files(page, super::files::picked(&ev), keep_model.get_untracked());
    };
    // LoRA adapters: applied to the loaded model at once (it reloads) and to any model loaded
    // after; the card lists what is applied.
    let adapter_scale = RwSignal::new(1.0f32);
    let chosen = RwSignal::new(Vec::<String>::new());
    let add_adapter = move |ev: leptos::ev::Event| {
        let Some(file) = super::files::picked(&ev).into_iter().next() else { return };
        let scale = adapter_scale.get_untracked();
        page.error.set(None);
        chosen.update(|c| c.push(format!("{} ×{scale}", file.name())));
        if page.model.get_untracked().is_some() {
            page.busy.set(true);
            page.status.set(format!("Applying the adapter {}…", file.name()));
        }
        send(&ToWorker::AddAdapter { file_name: file.name(), scale }, Some(&file));
    };
    let set_scale = move |ev: leptos::ev::Event| {
        if let Some(v) = event_target_value(&ev).parse::<f32>().ok().filter(|v| v.is_finite()) {
            adapter_scale.set(v);
        }
    };
    let clear_adapters = move |_| {
        chosen.set(Vec::new());
        page.error.set(None);
        if page.model.get_untracked().is_some() {
            page.busy.set(true);
            page.status.set("Reloading the model without adapters…".into());
        }
        send(&ToWorker::ClearAdapters, None);
    };
    let load_url = move || {
        let u = url.get_untracked();
        if u.trim().is_empty() {
            return;
        }
        page.error.set(None);
        page.busy.set(true);
        page.status.set(format!("Fetching {u}…"));
        send(&ToWorker::LoadUrl { url: u }, None);
    };
    view! {
        <section id="model">
            <h2>"Model"</h2>
            <div class="row">
                <button id="load-demo" on:click=load_demo disabled=idle>"Load the demo model (Gemma 3 270M)"</button>
                <label>"or a GGUF file " <input type="file" id="model-file" data-testid="model-file" accept=".gguf" multiple on:change=load_file disabled=idle/></label>
                <label><input type="checkbox" id="keep-model" on:change=move |ev| keep_model.set(event_target_checked(&ev))/>" keep it in this browser for next time"</label>
            </div>
            <div class="row">
                <input type="url" id="model-url" data-testid="model-url" aria-label="Model URL" placeholder="https://… a .gguf URL (fetched only when you press Fetch)"
                    prop:value=move || url.get() on:input=move |ev| url.set(event_target_value(&ev))
                    on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Enter" { load_url() }/>
                <button id="load-url" on:click=move |_| load_url() disabled=idle>"Fetch"</button>
            </div>
            <div class="row">
                <label>"LoRA adapter (GGUF) " <input type="file" id="adapter-file" data-testid="adapter-file" accept=".gguf" on:change=add_adapter disabled=idle/></label>
                <label>"at scale " <input type="number" id="adapter-scale" data-testid="adapter-scale" step="0.05" aria-label="Adapter scale"
                    prop:value=move || adapter_scale.get().to_string()
                    on:input=set_scale/></label>
                <Show when=move || page.model.with(Option::is_none) && !chosen.with(Vec::is_empty)>
                    <span id="adapters-chosen">{move || format!("for the next model: {}", chosen.get().join(", "))}</span>
                </Show>
                <Show when=move || !chosen.with(Vec::is_empty) || page.model.with(|m| m.as_ref().is_some_and(|m| !m.adapters.is_empty()))>
                    <button id="clear-adapters" on:click=clear_adapters disabled=idle>"Remove the adapters"</button>
                </Show>
            </div>
            <p id="gpu-check" data-testid="gpu-check" data-ok=move || page.gpu.get().map(|g| g.ok().to_string())>
                {move || page.gpu.get().map(|g| g.summary()).unwrap_or_else(|| "WebGPU: checking the kernels…".into())}
            </p>
            <p id="threads" data-testid="threads" data-threads=move || page.threads.with(|t| t.running.unwrap_or(1).to_string())>
                {move || page.threads.with(|t| t.summary())}
            </p>
            <p id="offline" data-testid="offline" data-ready=move || page.offline.with(|o| o.ready.to_string())
                data-isolated=move || page.offline.with(|o| o.isolated.to_string())>{move || page.offline.with(|o| o.summary())}</p>
            {move || page.model.get().map(|m| {
                let c = m.card;
                view! {
                    <dl class="card" id="model-card" data-testid="model-card">
                        <dt>"File"</dt><dd>{m.file_name}</dd>
                        <dt>"Architecture"</dt><dd>{c.architecture.clone()}</dd>
                        <dt>"Parameters"</dt><dd>{format!("{:.1} M", c.parameters as f64 / 1e6)}</dd>
                        <dt>"Quantization"</dt><dd>{c.quantization.iter().map(|q| format!("{} {}", q.ty, mib(q.bytes))).collect::<Vec<_>>().join(", ")}</dd>
                        <dt>"Context"</dt><dd>{format!("{} tokens (KV cache {} tokens)", c.context_length, c.memory_ctx)}</dd>
                        <dt>"Memory"</dt><dd>{mib(c.memory_bytes)}</dd>
                        {m.worker_memory.map(|b| view! {
                            <dt>"Worker memory"</dt>
                            <dd id="worker-memory" data-bytes=b.to_string()>{format!("{} of WebAssembly memory in the worker", mib(b))}</dd>
                        })}
                        <dt>"Chat template"</dt><dd>{if c.chat_template { "yes" } else { "no (a base model)" }}</dd>
                        {(!m.adapters.is_empty()).then(|| view! {
                            <dt>"LoRA adapters"</dt>
                            <dd id="model-adapters" data-testid="model-adapters">
                                {m.adapters.iter().map(|a| format!("{} (SHA-256 {}…)", a.label(), a.sha256.chars().take(12).collect::<String>())).collect::<Vec<_>>().join("; ")}
                            </dd>
                        })}
                        <dt>"Backend"</dt><dd id="backend" data-testid="backend">{format!("{} — {}", m.backend, m.backend_reason)}</dd>
                        {page.backend_note.get_value().map(|n| view! { <dt>"Note"</dt><dd id="backend-note">{n}</dd> })}
                    </dl>
                }
            })}
        </section>
    }
}

/// A run a reload interrupted, offered to go on once the same model (by SHA-256) is loaded.
#[component]
pub fn InterruptedRun() -> impl IntoView {
    let page = page();
    // Looked for once, when the page opens.
    leptos::task::spawn_local(async move {
        match super::checkpoint::interrupted_run().await {
            Ok(r) => page.interrupted.set(r),
            Err(e) => page.fail(e),
        }
    });
    let resume = move |_| {
        let Some((meta, data, kept)) = page.interrupted.get_untracked() else { return };
        page.error.set(None);
        let mut req = meta.request.clone();
        req.previous = kept.clone();
        let task = req.task.clone();
        page.samples.update(|v| {
            v.retain(|s| s.task != task);
            v.extend(kept);
        });
        page.current_run.set(Some(meta));
        page.interrupted.set(None);
        send(&ToWorker::Run(req), data.as_ref());
    };
    let discard = move |_| {
        if let Some((meta, _, _)) = page.interrupted.get_untracked() {
            forget_run(meta);
        }
        page.interrupted.set(None);
    };
    move || {
        page.interrupted.get().map(|(meta, _, kept)| {
            let want = meta.clone();
            let same_model = Signal::derive(move || page.model.with(|m| m.as_ref().is_some_and(|m| want.same_model(m))));
            let with = if meta.adapters.is_empty() {
                String::new()
            } else {
                let each: Vec<String> = meta.adapters.iter().map(|a| format!("{} ×{} (SHA-256 {}…)", a.file, a.scale, a.sha256.chars().take(12).collect::<String>())).collect();
                format!(" with the adapters {}", each.join(", "))
            };
            let need = format!("{} (SHA-256 {}…){with}", meta.model_name, meta.model_sha256.chars().take(12).collect::<String>());
            let sha = meta.model_sha256.clone();
            view! {
                <section id="interrupted" class="notice">
                    <p>{format!("A run of {} stopped after {} documents; it can go on from there.", meta.request.task, kept.len())}</p>
                    <Show when=move || !same_model.get()>
                        <p>{format!("Load the same model first: {need}. It is checked by its SHA-256.")}</p>
                        <button id="load-kept" on:click={
                            let sha = sha.clone();
                            move |_| {
                                page.busy.set(true);
                                send(&ToWorker::LoadKept { sha256: sha.clone() }, None)
                            }
                        } disabled=move || page.busy.get()>"Load it from this browser's storage, if kept"</button>
                    </Show>
                    <div class="row">
                        <button id="resume-run" on:click=resume disabled=move || !same_model.get() || page.running.get()>"Resume the run"</button>
                        <button id="discard-run" on:click=discard>"Discard it"</button>
                    </div>
                </section>
            }
        })
    }
}
