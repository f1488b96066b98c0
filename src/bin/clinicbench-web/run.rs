//! The Run section: progress with speed and time left, and the document being run, live.

use super::samples::probability_bars;
use super::state::page;
use leptos::prelude::*;

fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

#[component]
pub fn RunSection() -> impl IntoView {
    let page = page();
    let line = move || {
        let p = page.progress.get();
        let elapsed = (now_ms() - p.started_ms) / 1000.0;
        let eta = if p.done > 0 && p.done < p.total { format!(", about {:.0} s left", elapsed / p.done as f64 * (p.total - p.done) as f64) } else { String::new() };
        let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.1}"));
        format!("{} / {} documents{eta} · prefill {} tok/s · decode {} tok/s", p.done, p.total, f(p.prefill_tok_s), f(p.decode_tok_s))
    };
    view! {
        <section id="run">
            <h2>"Run"</h2>
            <progress id="progress" data-testid="progress" aria-label="Documents done"
                max=move || page.progress.get().total.max(1).to_string() value=move || page.progress.get().done.to_string()></progress>
            <p class="stats" id="stats">{line}</p>
            <details open>
                <summary>"Current document"</summary>
                <Show when=move || page.live.with(|l| l.together > 1)>
                    <p class="muted" id="live-together" data-testid="live-together">
                        {move || page.live.with(|l| format!("{} documents generated together (each step of the model reads the weights once for all of them); the first is shown, the others appear in Samples when the batch ends.", l.together))}
                    </p>
                </Show>
                <Show when=move || page.live.with(|l| !l.prompt.is_empty()) fallback=|| view! { <p class="muted">"Nothing running."</p> }>
                    <pre class="prompt" id="live-prompt">{move || page.live.with(|l| l.prompt.clone())}</pre>
                </Show>
                <Show when=move || page.live.with(|l| !l.text.is_empty())>
                    <pre class="generation" id="live-text">{move || page.live.with(|l| l.text.clone())}</pre>
                </Show>
                {move || probability_bars(page.live.with(|l| l.probabilities.clone()))}
            </details>
        </section>
    }
}
