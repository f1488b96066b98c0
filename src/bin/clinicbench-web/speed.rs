//! The Speed section: prefill and decode measured in the worker on the loaded model, and in the
//! benchmark build, the peer (wllama, llama.cpp in WebAssembly) on the same file in the same
//! browser, shown as a ratio.

use super::state::{page, Page, PeerBench};
use super::worker::send;
use clinicbench::engine::Bench;
use clinicbench::web::ToWorker;
use leptos::prelude::*;
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

thread_local! {
    /// Where the loaded model's bytes are for the peer: `{file}` or `{opfs: [names]}`.
    static PEER_SOURCE: RefCell<Option<js_sys::Object>> = const { RefCell::new(None) };
}

/// A model is loaded: a picked file is the `File` itself; anything else the worker kept in OPFS.
pub fn model_placed(file_name: &str, sha256: &str, source: &str) {
    let peer_source = js_sys::Object::new();
    let file = super::worker::model_file().filter(|f| source == "file" && f.name() == file_name);
    let _ = match file {
        Some(f) => js_sys::Reflect::set(&peer_source, &"file".into(), &f),
        None => js_sys::Reflect::set(&peer_source, &"opfs".into(), &js_sys::Array::of1(&clinicbench::web::kept_model_name(sha256).into())),
    };
    PEER_SOURCE.with(|s| *s.borrow_mut() = Some(peer_source));
}

fn js_error_text(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).or_else(|| e.as_string()).unwrap_or_else(|| format!("{e:?}"))
}

/// Runs the benchmark build's peer on the loaded model with our bench's prompt, on as many CPU
/// threads as our engine had; `None` when this build has no peer.
fn peer_bench(prompt: &str, prompt_tokens: usize, gen_tokens: usize, gpu: bool, threads: usize) -> Option<js_sys::Promise> {
    let peer = js_sys::Reflect::get(&js_sys::global(), &"clinicbenchPeer".into()).ok().filter(|p| p.is_object())?;
    let run: js_sys::Function = js_sys::Reflect::get(&peer, &"run".into()).ok()?.dyn_into().ok()?;
    let source = PEER_SOURCE.with(|s| s.borrow().clone())?;
    let args = js_sys::Array::of5(&source, &prompt.into(), &(prompt_tokens as f64).into(), &(gen_tokens as f64).into(), &gpu.into());
    args.push(&(threads as f64).into());
    run.apply(&peer, &args).ok()?.dyn_into().ok()
}

/// Our engine measured; the peer next, where this build has one.
pub fn measured(page: Page, backend: String, result: Bench, prompt: String) {
    page.peer.set(None);
    let gpu = backend.starts_with("wgpu");
    let threads = page.threads.with_untracked(|t| t.running.unwrap_or(1));
    match peer_bench(&prompt, result.prompt_tokens, result.gen_tokens, gpu, threads) {
        Some(promise) => {
            page.status.set("Speed measured; measuring the peer on the same file…".into());
            wasm_bindgen_futures::spawn_local(async move {
                let measured = match wasm_bindgen_futures::JsFuture::from(promise).await {
                    Ok(v) => serde_wasm_bindgen::from_value::<PeerBench>(v).map_err(|e| format!("the peer answered something else: {e}")),
                    Err(e) => Err(format!("the peer failed: {}", js_error_text(&e))),
                };
                page.peer.set(Some(measured));
                page.busy.set(false);
                page.status.set("Speed measured.".into());
            });
        }
        None => {
            page.busy.set(false);
            page.status.set("Speed measured.".into());
        }
    }
    page.bench.set(Some((backend, result)));
}

#[component]
pub fn SpeedSection() -> impl IntoView {
    let page = page();
    let measure = move |_| {
        page.busy.set(true);
        page.status.set("Measuring prefill and decode speed…".into());
        send(&ToWorker::Bench { prompt_tokens: 128, gen_tokens: 32 }, None)
    };
    view! {
        <section id="bench">
            <h2>"Speed"</h2>
            <div class="row">
                <button id="run-bench" on:click=measure disabled=move || page.model.with(Option::is_none) || page.running.get() || page.busy.get()>
                    "Measure speed (128-token prompt, 32 tokens)"
                </button>
            </div>
            {move || page.bench.get().map(|(backend, b)| view! {
                <p id="bench-result">{format!(
                    "{backend}: prefill {:.1} tok/s, decode {:.1} tok/s ({:.1} MB of weights per token, {:.2} GB/s).",
                    b.prefill_tokens_per_second(),
                    b.decode_tokens_per_second(),
                    b.bytes_per_token as f64 / 1e6,
                    b.bytes_per_token as f64 * b.decode_tokens_per_second() / 1e9
                )}</p>
            })}
            {move || match (page.peer.get(), page.bench.get()) {
                (Some(Ok(p)), Some((_, ours))) => view! {
                    <p id="bench-peer" data-testid="bench-peer">{format!(
                        "{}, same file, same browser: prefill {:.1} tok/s ({} tokens), decode {:.1} tok/s ({} tokens). Ours against it: prefill {:.2}x, decode {:.2}x.",
                        p.peer, p.prefill_tok_s, p.prompt_tokens, p.decode_tok_s, p.gen_tokens,
                        ours.prefill_tokens_per_second() / p.prefill_tok_s,
                        ours.decode_tokens_per_second() / p.decode_tok_s
                    )}</p>
                }.into_any(),
                (Some(Err(e)), _) => view! { <p id="bench-peer" data-testid="bench-peer" class="error">{e}</p> }.into_any(),
                _ => view! {
                    <p class="muted">"The benchmark build (scripts/build-bench-page.sh) also runs wllama, llama.cpp in WebAssembly, on the same file here and shows the ratio."</p>
                }.into_any(),
            }}
        </section>
    }
}
