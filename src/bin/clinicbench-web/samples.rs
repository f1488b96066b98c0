//! The Samples section, and how a sample reads: its gold answer, the prediction, each choice's
//! probability. Every text here is the dataset's or the model's, rendered as text.

use super::state::page;
use clinicbench::tasks::Sample;
use leptos::prelude::*;
use serde_json::Value;

/// Whether a sample is right (by `acc`), wrong, or neither (no accuracy for its task).
pub fn correctness(s: &Sample) -> Option<bool> {
    s.metrics.get("acc").map(|v| *v >= 1.0)
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(value_text).collect::<Vec<_>>().join(", "),
        Value::Null => "(no answer)".into(),
        other => other.to_string(),
    }
}

pub fn gold_text(s: &Sample) -> String {
    match (s.target.as_u64(), s.choices.is_empty()) {
        (Some(i), false) => s.choices.get(i as usize).cloned().unwrap_or_default(),
        _ => value_text(&s.target),
    }
}

pub fn pred_text(s: &Sample) -> String {
    if let Some(ans) = &s.answer {
        return value_text(ans);
    }
    s.pred.and_then(|i| s.choices.get(i).cloned()).unwrap_or_else(|| "(no answer)".into())
}

/// Each choice's probability among the choices (softmax of the loglikelihoods).
pub fn probabilities(s: &Sample) -> Vec<(String, f64, bool)> {
    let Some(lls) = &s.loglikelihoods else { return vec![] };
    let max = lls.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let z: f64 = lls.iter().map(|l| (l - max).exp()).sum();
    let gold = s.target.as_u64().map(|g| g as usize);
    s.choices.iter().zip(lls).enumerate().map(|(i, (c, l))| (c.clone(), (l - max).exp() / z, Some(i) == gold)).collect()
}

/// Each choice's probability as a bar, the gold one marked.
pub fn probability_bars(probs: Vec<(String, f64, bool)>) -> impl IntoView {
    view! {
        <div class="probs">
            {probs.into_iter().map(|(c, p, gold)| view! {
                <div class="prob"><span class="choice">{c}{if gold { " (gold)" } else { "" }}</span>
                <meter class="bar" min="0" max="1" value=p.to_string()></meter>
                <span class="pct">{format!("{:.1}%", p * 100.0)}</span></div>
            }).collect_view()}
        </div>
    }
}

/// One sample, folded: its verdict, gold and prediction; open, the prompt, the generation, the
/// probabilities and its metrics.
fn sample_view(s: Sample) -> impl IntoView {
    let mark = match correctness(&s) {
        Some(true) => "✓",
        Some(false) => "✗",
        None => "·",
    };
    let metrics = s.metrics.iter().map(|(k, v)| format!("{k} {v:.3}")).collect::<Vec<_>>().join(", ");
    let probs = probabilities(&s);
    let summary = format!("{mark} {} #{} — gold: {} · prediction: {}{}", s.task, s.doc_id, gold_text(&s), pred_text(&s), if s.unparsed { " (unparsed)" } else { "" });
    view! {
        <li class="sample" data-testid="sample">
            <details>
                <summary>{summary}</summary>
                <pre class="prompt">{s.prompt.clone()}</pre>
                {s.generation.clone().map(|g| view! { <pre class="generation">{g}</pre> })}
                {probability_bars(probs)}
                <p class="metrics">{metrics}</p>
            </details>
        </li>
    }
}

/// A sample's key in the list: its task and document, and a fingerprint of all it holds (a rerun
/// of a task replaces its samples, and a changed sample must be drawn again).
fn sample_key(s: &Sample) -> (String, usize, u64) {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(s).unwrap_or_default().hash(&mut h);
    (s.task.clone(), s.doc_id, h.finish())
}

#[component]
pub fn SamplesSection() -> impl IntoView {
    let page = page();
    let (filter, set_filter) = signal(String::from("all"));
    let (search, set_search) = signal(String::new());
    let filtered = move || {
        let f = filter.get();
        let q = search.get().to_lowercase();
        page.samples.with(|all| {
            all.iter()
                .filter(|s| match f.as_str() {
                    "correct" => correctness(s) == Some(true),
                    "wrong" => correctness(s) == Some(false),
                    "unparsed" => s.unparsed,
                    _ => true,
                })
                .filter(|s| q.is_empty() || s.prompt.to_lowercase().contains(&q) || s.generation.as_deref().unwrap_or("").to_lowercase().contains(&q))
                .take(200)
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    view! {
        <section id="samples">
            <h2>"Samples"</h2>
            <div class="row">
                <select id="filter" aria-label="Which samples" on:change=move |ev| set_filter.set(event_target_value(&ev))>
                    <option value="all">"all"</option>
                    <option value="correct">"correct"</option>
                    <option value="wrong">"wrong"</option>
                    <option value="unparsed">"unparsed"</option>
                </select>
                <input type="search" id="search" aria-label="Search the samples" placeholder="search the prompts and answers" on:input=move |ev| set_search.set(event_target_value(&ev))/>
            </div>
            <ol class="sample-list" id="sample-list">
                <For each=filtered key=sample_key children=sample_view/>
            </ol>
        </section>
    }
}
