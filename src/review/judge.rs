//! A model as judge: the loaded model rates a set's outputs on the same instrument, one more
//! rater whose agreement with the clinicians shows whether it could stand in. Each dimension's
//! rating is the scale point whose digit the model finds most likely after the judge prompt
//! (a small model rarely writes a clean digit, but its loglikelihoods still rank them). The
//! judge sees the source and the output, never which run wrote it.

use super::{Rating, Review, ReviewSet, REVIEW_VERSION};
use crate::engine::{Engine, EngineError, LogLikelihoodRequest};

/// The judge prompt, a Jinja template over the instrument's wording (`instructions`, the
/// dimension's `name`, `question` and `scale`) and the item (`source`, `output`), in the style of
/// a task spec's `prompt`.
pub const JUDGE_PROMPT: &str = "You are a physician reviewing the output of a medical language model.
{{ instructions }}

Dimension: {{ name }}. {{ question }}
{% for point in scale %}{{ loop.index }}: {{ point }}
{% endfor %}
Source:
{{ source }}

Output to rate:
{{ output }}

Rating of {{ name | lower }} (1-4):";

/// Why the judge could not rate.
#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    #[error("the judge prompt does not render: {0}")]
    Template(String),
    #[error("item {item}, output {output}, {dimension}: {source}")]
    Engine { item: String, output: String, dimension: String, source: EngineError },
}

/// Rates every output of `set` on every dimension; `on_item` hears each item as it is done
/// (its index and the count). The ratings come back as a reviewer's file under `rater`.
pub async fn judge(
    engine: &mut dyn Engine,
    set: &ReviewSet,
    rater: &str,
    now: &str,
    on_item: &mut dyn FnMut(usize, usize),
) -> Result<Review, JudgeError> {
    let mut env = minijinja::Environment::new();
    env.add_template("judge", JUDGE_PROMPT).map_err(|e| JudgeError::Template(e.to_string()))?;
    let template = env.get_template("judge").map_err(|e| JudgeError::Template(e.to_string()))?;
    let mut ratings = Vec::new();
    for (i, item) in set.items.iter().enumerate() {
        for output in &item.outputs {
            for dim in &set.instrument.dimensions {
                let prompt = template
                    .render(minijinja::context! {
                        instructions => set.instrument.instructions,
                        name => dim.name,
                        question => dim.question,
                        scale => dim.scale,
                        source => item.source,
                        output => output.text,
                    })
                    .map_err(|e| JudgeError::Template(e.to_string()))?;
                let reqs: Vec<LogLikelihoodRequest> = (1..=4).map(|d| LogLikelihoodRequest::new(prompt.clone(), format!(" {d}"))).collect();
                let lls = engine.loglikelihood(&reqs).await.map_err(|source| JudgeError::Engine {
                    item: item.id.clone(),
                    output: output.id.clone(),
                    dimension: dim.id.clone(),
                    source,
                })?;
                // The most likely digit; a tie goes to the lower point.
                let best = (0..lls.len()).fold(0, |b, k| if lls[k].logprob > lls[b].logprob { k } else { b });
                ratings.push(Rating {
                    item: item.id.clone(),
                    output: output.id.clone(),
                    dimension: dim.id.clone(),
                    value: best as u8 + 1,
                    tags: vec![],
                    comment: String::new(),
                    seconds: 0.0,
                });
            }
        }
        on_item(i + 1, set.items.len());
    }
    Ok(Review {
        version: REVIEW_VERSION,
        set_hash: set.hash(),
        instrument_hash: set.instrument_hash.clone(),
        rater: rater.into(),
        app_version: env!("CARGO_PKG_VERSION").into(),
        started: now.into(),
        updated: now.into(),
        ratings,
        preferences: vec![],
    })
}
