//! Requests in, answers out: the seam between the task runner and the model.
//!
//! [`Engine`] is the one interface the tasks, the CLI and the page are written against (a mock
//! implements it in tests). [`LocalEngine`] implements it over a tokenizer and a [`Backend`]:
//! it applies lm-evaluation-harness's tokenization conventions, reuses the KV cache across
//! requests that share a prefix, and runs greedy or seeded sampled generation.
//!
//! Requests are futures, because a GPU's answer can only be awaited in the browser; on the CPU
//! and natively they resolve without waiting on anything. Native callers use [`wait`].

mod sampling;

pub use crate::backend::logits::{argmax, canonical_order, log_softmax_at, top_k, Candidate};
pub use sampling::{Sampler, Sampling};

use crate::backend::{Backend, BackendError, Segment, TokenScore};
use crate::tokenizer::Tokenizer;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;

/// One turn of a conversation rendered with the model's chat template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: &str, content: impl Into<String>) -> ChatMessage {
        ChatMessage { role: role.into(), content: content.into() }
    }
}

fn pairs(messages: &[ChatMessage]) -> Vec<(String, String)> {
    messages.iter().map(|m| (m.role.clone(), m.content.clone())).collect()
}

/// Score `continuation` given `context` (lm-eval's `loglikelihood` request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogLikelihoodRequest {
    /// Plain text (empty when `messages` gives the context).
    #[serde(default)]
    pub context: String,
    pub continuation: String,
    /// The context as a conversation in the model's chat template, the assistant's turn
    /// opened (lm-eval's `--apply_chat_template`). Message content is never parsed for special
    /// tokens; the template's markers are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<ChatMessage>>,
}

impl LogLikelihoodRequest {
    /// A plain-text request.
    pub fn new(context: impl Into<String>, continuation: impl Into<String>) -> LogLikelihoodRequest {
        LogLikelihoodRequest { context: context.into(), continuation: continuation.into(), messages: None }
    }
}

/// The answer to a [`LogLikelihoodRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLikelihood {
    /// Sum of the continuation tokens' log-probabilities (natural log).
    pub logprob: f64,
    /// Whether every continuation token was the model's argmax.
    pub is_greedy: bool,
    /// Number of continuation tokens.
    pub n_tokens: usize,
    /// Whether the context was cut on the left to fit the model's context.
    pub truncated: bool,
}

/// Generate text after `prompt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateRequest {
    /// Plain text (empty when `messages` gives the prompt).
    #[serde(default)]
    pub prompt: String,
    /// The prompt as a conversation in the model's chat template, the assistant's turn opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<ChatMessage>>,
    /// Generation stops when any of these appears; the text is cut before it.
    #[serde(default)]
    pub stop: Vec<String>,
    pub max_tokens: usize,
    #[serde(default)]
    pub sampling: Sampling,
    /// Keep going past the model's end-of-generation tokens.
    #[serde(default)]
    pub ignore_eos: bool,
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Finish {
    /// A stop string appeared.
    Stop,
    /// The model produced an end-of-generation token.
    Eos,
    /// `max_tokens` were generated, or the context filled up.
    Length,
}

/// The answer to a [`GenerateRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    /// The generated text, without the stop string and what followed it.
    pub text: String,
    /// The generated token ids (an end-of-generation token is not included).
    pub ids: Vec<u32>,
    pub finish: Finish,
    /// Whether the prompt was cut on the left to leave room for `max_tokens`.
    pub truncated: bool,
}

/// What [`LocalEngine::bench`] measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bench {
    pub prompt_tokens: usize,
    pub gen_tokens: usize,
    pub prefill_seconds: f64,
    pub decode_seconds: f64,
    /// Weight bytes read per decoded token.
    pub bytes_per_token: u64,
}

impl Bench {
    pub fn prefill_tokens_per_second(&self) -> f64 {
        self.prompt_tokens as f64 / self.prefill_seconds
    }
    pub fn decode_tokens_per_second(&self) -> f64 {
        self.gen_tokens as f64 / self.decode_seconds
    }
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("the continuation is {n_tokens} tokens, longer than the model's {n_ctx}-token context")]
    ContinuationTooLong { n_tokens: usize, n_ctx: usize },
    #[error("the continuation is empty: it adds no tokens to the context")]
    EmptyContinuation,
    #[error("{0}")]
    Invalid(String),
    /// Documents generated together were interrupted between two steps ([`Interrupt`]).
    #[error("interrupted between steps")]
    Cancelled,
}

/// A request under way; it borrows the engine until it resolves.
pub type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<T, EngineError>> + 'a>>;

/// Runs a request (or any engine future) to its end on this thread: the CLI's and the tests'
/// way to call the engine. Natively a GPU read-back completes by polling the device, so this
/// never waits on an event loop.
#[cfg(not(target_arch = "wasm32"))]
pub fn wait<F: Future>(future: F) -> F::Output {
    pollster::block_on(future)
}

/// The interface between the task runner and a model.
pub trait Engine {
    /// Scores each request's continuation.
    fn loglikelihood<'a>(&'a mut self, reqs: &'a [LogLikelihoodRequest]) -> Answer<'a, Vec<LogLikelihood>>;
    /// Generates text, calling `on_token` with each new piece of text as it becomes final.
    fn generate<'a>(&'a mut self, req: &'a GenerateRequest, on_token: &'a mut dyn FnMut(&str)) -> Answer<'a, Generation>;
    /// Generates for each request, calling `on_token(i, text)` with request `i`'s new text. An
    /// engine may run the requests together ([`LocalEngine`] on a backend with segments does);
    /// this one runs them one after another.
    fn generate_batch<'a>(&'a mut self, reqs: &'a [GenerateRequest], on_token: &'a mut dyn FnMut(usize, &str)) -> Answer<'a, Vec<Generation>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(reqs.len());
            for (i, req) in reqs.iter().enumerate() {
                out.push(self.generate(req, &mut |text| on_token(i, text)).await?);
            }
            Ok(out)
        })
    }
    /// Whether [`Engine::generate_batch`] runs greedy requests together (its sums then round
    /// otherwise than one at a time's: results record it). This one runs them one after another.
    fn generates_together(&self) -> bool {
        false
    }
    /// The text the model's chat template makes of `messages` with the assistant's turn opened
    /// (what a request with these messages is conditioned on), for people to read.
    fn render_chat(&self, messages: &[ChatMessage]) -> Result<String, EngineError> {
        let _ = messages;
        Err(EngineError::Invalid("this engine has no chat template".into()))
    }
}

/// Python's `str.isspace`, which `rstrip()` uses: Unicode White_Space plus the four ASCII
/// information separators (U+001C..U+001F) that Rust's `char::is_whitespace` leaves out.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// lm-eval's `_encode_pair` split: trailing whitespace of the context moves to the front of the
/// continuation, so `"Answer: "` + `"A"` is scored as `"Answer:"` + `" A"`.
pub fn split_trailing_whitespace<'a>(context: &'a str, continuation: &str) -> (&'a str, String) {
    let trimmed = context.trim_end_matches(is_python_space);
    let moved = &context[trimmed.len()..];
    (trimmed, format!("{moved}{continuation}"))
}

/// Asked between the steps of documents generated together, whether to stop there (the
/// request then fails with [`EngineError::Cancelled`], having kept nothing). The page's worker
/// answers it: awaiting it lets the worker hear Pause and Cancel in the middle of a batch.
pub type Interrupt = std::rc::Rc<dyn Fn() -> Pin<Box<dyn Future<Output = bool>>>>;

/// An [`Engine`] running a model locally on a [`Backend`].
pub struct LocalEngine<B: Backend> {
    tokenizer: Tokenizer,
    backend: B,
    /// The token sequence whose keys and values are in the backend's cache.
    cached: Vec<u32>,
    /// Counters for `bench` and reports.
    pub stats: EngineStats,
    interrupt: Option<Interrupt>,
}

/// Work done so far.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EngineStats {
    /// Tokens run through the model in batches (prompt processing).
    pub prefill_tokens: u64,
    pub prefill_seconds: f64,
    /// Tokens produced one at a time during generation.
    pub decode_tokens: u64,
    pub decode_seconds: f64,
    /// Tokens whose keys and values were reused from the cache.
    pub reused_tokens: u64,
}

impl<B: Backend> LocalEngine<B> {
    pub fn new(tokenizer: Tokenizer, backend: B) -> Self {
        LocalEngine { tokenizer, backend, cached: Vec::new(), stats: EngineStats::default(), interrupt: None }
    }

    /// What documents generated together ask between their steps whether to stop.
    pub fn set_interrupt(&mut self, interrupt: Option<Interrupt>) {
        self.interrupt = interrupt;
    }

    /// Whether the [`Interrupt`] says to stop here.
    async fn interrupted(&self) -> bool {
        match &self.interrupt {
            Some(asked) => asked().await,
            None => false,
        }
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    pub fn backend_mut(&mut self) -> &mut B {
        // The caller may change the KV cache behind our back: forget what we think is cached.
        self.cached.clear();
        self.backend.truncate_kv(0);
        &mut self.backend
    }

    /// The prompt [`Self::bench`] prefills: `prompt_tokens` tokens of clinical text, BOS first
    /// where the model adds one (a peer measured beside us is given the same text).
    pub fn bench_prompt(&self, prompt_tokens: usize) -> Vec<u32> {
        let text = "A 67-year-old man with type 2 diabetes presents with chest pain radiating to the left arm. \
                    Blood pressure 150/95 mmHg, HbA1c 8.1%, troponin elevated. ";
        let mut prompt = self.encode(&text.repeat(1 + prompt_tokens / 20));
        prompt.truncate(prompt_tokens);
        prompt
    }

    /// Prefill and decode speed on this model: [`Self::bench_prompt`] in batches, then
    /// `gen_tokens` greedy tokens one at a time, from an empty cache after a one-token warm-up
    /// (a GPU sets up its first pass lazily).
    pub async fn bench(&mut self, prompt_tokens: usize, gen_tokens: usize) -> Result<Bench, EngineError> {
        let n_ctx = self.backend.n_ctx();
        if prompt_tokens == 0 || prompt_tokens + gen_tokens > n_ctx {
            return Err(EngineError::Invalid(format!(
                "{prompt_tokens} prompt tokens + {gen_tokens} generated must fit in the {n_ctx}-token context"
            )));
        }
        let prompt = self.bench_prompt(prompt_tokens);
        let max_batch = self.backend.max_batch();
        let backend = self.backend_mut();
        backend.forward_scores(&prompt[..1], &[0]).await?;
        backend.truncate_kv(0);
        let t0 = now();
        // Logits for the prompt's last token only, as evaluation asks for them (`run`) and as
        // llama.cpp's benchmark does: the batches before it fill the cache and nothing else
        // (an output product for each was a twentieth of the prefill time of a small model).
        let (chunks, last_chunk) = prompt.split_at(prompt.len() - (prompt.len() - 1) % max_batch - 1);
        for chunk in chunks.chunks(max_batch) {
            backend.forward(chunk, 0).await?;
        }
        let mut last = backend.forward_scores(last_chunk, &[0]).await?[0].argmax;
        let prefill_seconds = now() - t0;
        let t1 = now();
        for _ in 0..gen_tokens {
            last = backend.forward_scores(&[last], &[0]).await?[0].argmax;
        }
        let decode_seconds = now() - t1;
        backend.truncate_kv(0);
        let bytes_per_token = backend.weight_bytes_per_token();
        Ok(Bench { prompt_tokens: prompt.len(), gen_tokens, prefill_seconds, decode_seconds, bytes_per_token })
    }

    /// Tokenizes user or dataset text: BOS per the model's metadata, no special-token parsing.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        self.tokenizer.encode(text, true, false)
    }

    /// Makes the cache hold `tokens[..keep]` for some `keep <= limit`, reusing the longest
    /// common prefix with what is cached, and returns `keep`.
    fn reuse_prefix(&mut self, tokens: &[u32], limit: usize) -> usize {
        let common = self.cached.iter().zip(tokens).take_while(|(a, b)| a == b).count();
        let keep = common.min(limit);
        self.backend.truncate_kv(keep);
        self.cached.truncate(keep);
        self.stats.reused_tokens += keep as u64;
        keep
    }

    /// Runs `tokens[from..]` through the model (after `tokens[..from]` is cached), calling
    /// `on_logits(i, row)` for every position `i >= first_logit` with that position's logits.
    async fn run(
        &mut self,
        tokens: &[u32],
        from: usize,
        first_logit: usize,
        on_logits: &mut dyn FnMut(usize, &[f32]),
    ) -> Result<(), EngineError> {
        let n_vocab = self.backend.config().n_vocab;
        let (max_batch, max_logits) = (self.backend.max_batch(), self.backend.max_logits());
        let started = now();
        let mut pos = from;
        while pos < tokens.len() {
            let first_in_batch = first_logit.max(pos);
            let end = (pos + max_batch).min(tokens.len()).min(first_in_batch.saturating_add(max_logits));
            let n_logits = end.saturating_sub(first_in_batch);
            let result = self.backend.forward(&tokens[pos..end], n_logits).await;
            let logits = match result {
                Ok(l) => l,
                Err(e) => {
                    // The cache may hold part of this batch; forget it so state stays consistent.
                    self.backend.truncate_kv(pos);
                    self.cached.truncate(pos);
                    return Err(e.into());
                }
            };
            self.cached.extend_from_slice(&tokens[pos..end]);
            for (k, row) in logits.chunks_exact(n_vocab).enumerate() {
                on_logits(first_in_batch + k, row);
            }
            pos = end;
        }
        self.stats.prefill_tokens += (tokens.len() - from) as u64;
        self.stats.prefill_seconds += now() - started;
        Ok(())
    }

    /// Runs `tokens[from..]` through the model like [`Self::run`], returning for every position
    /// `i >= first_logit` the log-probability of `targets[i - first_logit]` and the argmax,
    /// reduced by the backend (on a GPU, without reading the logits back).
    async fn run_scored(
        &mut self,
        tokens: &[u32],
        from: usize,
        first_logit: usize,
        targets: &[u32],
    ) -> Result<Vec<TokenScore>, EngineError> {
        let (max_batch, max_logits) = (self.backend.max_batch(), self.backend.max_logits());
        let started = now();
        let mut scores = Vec::with_capacity(targets.len());
        let mut pos = from;
        while pos < tokens.len() {
            let first_in_batch = first_logit.max(pos);
            let end = (pos + max_batch).min(tokens.len()).min(first_in_batch.saturating_add(max_logits));
            // Positions first_in_batch..end have logits (none when the batch ends before them).
            let start = first_in_batch - first_logit;
            let batch_targets = &targets[start..start + end.saturating_sub(first_in_batch)];
            match self.backend.forward_scores(&tokens[pos..end], batch_targets).await {
                Ok(s) => scores.extend(s),
                Err(e) => {
                    self.backend.truncate_kv(pos);
                    self.cached.truncate(pos);
                    return Err(e.into());
                }
            }
            self.cached.extend_from_slice(&tokens[pos..end]);
            pos = end;
        }
        self.stats.prefill_tokens += (tokens.len() - from) as u64;
        self.stats.prefill_seconds += now() - started;
        Ok(scores)
    }

    /// Runs `tokens[from..]` through the model like [`Self::run`] and returns the `k` most
    /// likely tokens to follow the last one, selected by the backend.
    async fn run_top_k(&mut self, tokens: &[u32], from: usize, k: usize) -> Result<Vec<Candidate>, EngineError> {
        // Everything but the last batch only fills the cache.
        let last = from.max(tokens.len().saturating_sub(self.backend.max_batch()));
        self.run_scored(&tokens[..last], from, last, &[]).await?;
        let started = now();
        match self.backend.forward_top_k(&tokens[last..], k).await {
            Ok(candidates) => {
                self.cached.extend_from_slice(&tokens[last..]);
                self.stats.prefill_tokens += (tokens.len() - last) as u64;
                self.stats.prefill_seconds += now() - started;
                Ok(candidates)
            }
            Err(e) => {
                self.backend.truncate_kv(last);
                self.cached.truncate(last);
                Err(e.into())
            }
        }
    }

    /// What the model sees for one request, as lm-eval builds it.
    fn prepare(&self, req: &LogLikelihoodRequest) -> Result<Prepared, EngineError> {
        let (mut context_enc, whole) = match &req.messages {
            Some(messages) => {
                if !req.context.is_empty() {
                    return Err(EngineError::Invalid("give the context as text or as messages, not both".into()));
                }
                self.tokenizer.encode_chat_continuation(&pairs(messages), &req.continuation).map_err(chat_error)?
            }
            None => {
                let (context, continuation) = split_trailing_whitespace(&req.context, &req.continuation);
                (self.encode(context), self.encode(&format!("{context}{continuation}")))
            }
        };
        let context_len = context_enc.len();
        if context_len >= whole.len() {
            return Err(EngineError::EmptyContinuation);
        }
        // lm-eval: continuation_enc = whole_enc[len(context_enc):]; the model sees
        // context_enc + continuation_enc, which may differ from whole_enc at the seam.
        let continuation_enc = &whole[context_len..];
        let n_cont = continuation_enc.len();
        if context_enc.is_empty() {
            // lm-eval scores an empty context after its prefix token (BOS, else EOS).
            let prefix = self.tokenizer.bos().or(self.tokenizer.eos()).ok_or_else(|| {
                EngineError::Invalid("the context is empty and the model has neither BOS nor EOS".into())
            })?;
            context_enc.push(prefix);
        }
        let mut all = context_enc;
        all.extend_from_slice(continuation_enc);
        // lm-eval: inp = (context_enc + continuation_enc)[-(max_length + 1):][:-1]
        let n_ctx = self.backend.n_ctx();
        if n_cont > n_ctx {
            return Err(EngineError::ContinuationTooLong { n_tokens: n_cont, n_ctx });
        }
        let window_start = all.len().saturating_sub(n_ctx + 1);
        let truncated = window_start > 0;
        let targets = continuation_enc.to_vec();
        all.pop();
        let input = all.split_off(window_start);
        // Position i's logits predict input[i + 1]; the first continuation token is predicted at
        // index input.len() - n_cont.
        let first_logit = input.len() - n_cont;
        Ok(Prepared { input, targets, first_logit, truncated })
    }

    async fn loglikelihood_one(&mut self, req: &LogLikelihoodRequest) -> Result<LogLikelihood, EngineError> {
        let p = self.prepare(req)?;
        let keep = self.reuse_prefix(&p.input, p.first_logit);
        let scores = self.run_scored(&p.input, keep, p.first_logit, &p.targets).await?;
        Ok(p.answer(&scores))
    }

    /// Requests over one context (a question's choices): the context runs once, and the logits
    /// of its last position score every request's first continuation token, where one request
    /// at a time would run that position again for each (a whole vocabulary's product each).
    /// Later continuation tokens run after the cached context, as [`Self::loglikelihood_one`]
    /// would. `None` when the requests do not share their context position for position (a
    /// truncated window, a seam the tokenizer merged): then they go one at a time.
    async fn loglikelihood_shared(&mut self, reqs: &[LogLikelihoodRequest]) -> Result<Option<Vec<LogLikelihood>>, EngineError> {
        let prepared = reqs.iter().map(|r| self.prepare(r)).collect::<Result<Vec<_>, _>>()?;
        let first = &prepared[0];
        let context = &first.input[..=first.first_logit];
        let shared = prepared.iter().all(|p| !p.truncated && p.first_logit == first.first_logit && &p.input[..=p.first_logit] == context);
        if !shared {
            return Ok(None);
        }
        let n_vocab = self.backend.config().n_vocab;
        let keep = self.reuse_prefix(context, first.first_logit);
        let mut row = Vec::new();
        self.run(context, keep, first.first_logit, &mut |_, logits| row = logits.to_vec()).await?;
        let mut out = Vec::with_capacity(reqs.len());
        for p in &prepared {
            let (logprob, argmax) = crate::backend::logits::log_softmax_at(&row, (p.targets[0] as usize).min(n_vocab - 1));
            let mut scores = vec![TokenScore { logprob, argmax: argmax as u32 }];
            if p.targets.len() > 1 {
                let from = p.first_logit + 1;
                let keep = self.reuse_prefix(&p.input, from);
                scores.extend(self.run_scored(&p.input, keep, from, &p.targets[1..]).await?);
            }
            out.push(p.answer(&scores));
        }
        Ok(Some(out))
    }
}

/// One loglikelihood request as the model sees it.
struct Prepared {
    /// Context and continuation but its last token, in the model's window.
    input: Vec<u32>,
    /// The continuation's tokens, each predicted by the position before it.
    targets: Vec<u32>,
    /// The position whose logits predict the first continuation token.
    first_logit: usize,
    truncated: bool,
}

impl Prepared {
    fn answer(&self, scores: &[TokenScore]) -> LogLikelihood {
        let logprob = scores.iter().map(|s| s.logprob).sum();
        let is_greedy = scores.iter().zip(&self.targets).all(|(s, &t)| s.argmax == t);
        LogLikelihood { logprob, is_greedy, n_tokens: self.targets.len(), truncated: self.truncated }
    }
}

impl<B: Backend> Engine for LocalEngine<B> {
    fn loglikelihood<'a>(&'a mut self, reqs: &'a [LogLikelihoodRequest]) -> Answer<'a, Vec<LogLikelihood>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(reqs.len());
            let mut i = 0;
            while i < reqs.len() {
                // A run of requests over the same context (a question's choices) shares its pass.
                let same = |r: &LogLikelihoodRequest| r.context == reqs[i].context && r.messages == reqs[i].messages;
                let n = reqs[i..].iter().take_while(|r| same(r)).count();
                match if n > 1 { self.loglikelihood_shared(&reqs[i..i + n]).await? } else { None } {
                    Some(answers) => out.extend(answers),
                    None => {
                        for r in &reqs[i..i + n] {
                            out.push(self.loglikelihood_one(r).await?);
                        }
                    }
                }
                i += n;
            }
            Ok(out)
        })
    }

    fn generate<'a>(&'a mut self, req: &'a GenerateRequest, on_token: &'a mut dyn FnMut(&str)) -> Answer<'a, Generation> {
        Box::pin(async move {
            let mut prompt = self.prompt_tokens(req)?;
            self.generate_tokens(&mut prompt, req, on_token).await
        })
    }

    fn generate_batch<'a>(&'a mut self, reqs: &'a [GenerateRequest], on_token: &'a mut dyn FnMut(usize, &str)) -> Answer<'a, Vec<Generation>> {
        Box::pin(async move {
            let together = self.backend.max_segments() > 0 && reqs.iter().all(|r| Sampler::new(&r.sampling).is_greedy());
            if !together {
                let mut out = Vec::with_capacity(reqs.len());
                for (i, req) in reqs.iter().enumerate() {
                    out.push(self.generate(req, &mut |text| on_token(i, text)).await?);
                }
                return Ok(out);
            }
            let mut prompts = Vec::with_capacity(reqs.len());
            for req in reqs {
                let mut prompt = self.prompt_tokens(req)?;
                let truncated = self.fit_prompt(&mut prompt, req)?;
                prompts.push((prompt, truncated));
            }
            // The cache becomes the sequences' regions: what it held is forgotten.
            self.cached.clear();
            self.backend.truncate_kv(0);
            let result = self.generate_together(reqs, &prompts, on_token).await;
            self.backend.truncate_kv(0);
            result
        })
    }

    fn generates_together(&self) -> bool {
        self.backend.max_segments() > 0
    }

    fn render_chat(&self, messages: &[ChatMessage]) -> Result<String, EngineError> {
        self.tokenizer.apply_chat_template(&pairs(messages), true).map_err(chat_error)
    }
}

fn chat_error(e: crate::tokenizer::TokenizerError) -> EngineError {
    EngineError::Invalid(e.to_string())
}

impl<B: Backend> LocalEngine<B> {
    /// The prompt's tokens: the chat template's rendering of its messages, or its text.
    fn prompt_tokens(&self, req: &GenerateRequest) -> Result<Vec<u32>, EngineError> {
        match &req.messages {
            Some(messages) => {
                if !req.prompt.is_empty() {
                    return Err(EngineError::Invalid("give the prompt as text or as messages, not both".into()));
                }
                self.tokenizer.encode_chat(&pairs(messages), true).map_err(chat_error)
            }
            None => Ok(self.encode(&req.prompt)),
        }
    }

    /// Left-truncates `prompt` so that it and `max_tokens` fit the context, as lm-eval does;
    /// whether it was cut.
    fn fit_prompt(&self, prompt: &mut Vec<u32>, req: &GenerateRequest) -> Result<bool, EngineError> {
        if prompt.is_empty() {
            return Err(EngineError::Invalid("the prompt is empty and the model adds no BOS token".into()));
        }
        let n_ctx = self.backend.n_ctx();
        if req.max_tokens >= n_ctx {
            return Err(EngineError::Invalid(format!(
                "max_tokens {} leaves no room for a prompt in the {n_ctx}-token context",
                req.max_tokens
            )));
        }
        let room = n_ctx - req.max_tokens;
        let truncated = prompt.len() > room;
        if truncated {
            prompt.drain(..prompt.len() - room);
        }
        Ok(truncated)
    }

    /// Generates after already-tokenized `prompt` (the chat-template path tokenizes itself).
    pub async fn generate_tokens(
        &mut self,
        prompt: &mut Vec<u32>,
        req: &GenerateRequest,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<Generation, EngineError> {
        let truncated = self.fit_prompt(prompt, req)?;
        let n_ctx = self.backend.n_ctx();
        let mut sampler = Sampler::new(&req.sampling);
        // What a step needs: greedy decoding only the argmax and top-k sampling only the k best
        // tokens, which the backend selects itself (a GPU where the logits are); sampling over
        // the whole vocabulary needs the whole row.
        let n_vocab = self.backend.config().n_vocab;
        let greedy = sampler.is_greedy();
        let top_k = sampler.top_k(n_vocab);
        let mut next_logits = vec![0f32; if greedy || top_k.is_some() { 0 } else { n_vocab }];
        let mut next_candidates = Vec::new();
        let mut next_greedy = 0u32;
        let keep = self.reuse_prefix(prompt, prompt.len() - 1);
        if greedy {
            next_greedy = self.run_scored(prompt, keep, prompt.len() - 1, &[0]).await?[0].argmax;
        } else if let Some(k) = top_k {
            next_candidates = self.run_top_k(prompt, keep, k).await?;
        } else {
            self.run(prompt, keep, prompt.len() - 1, &mut |_, row| next_logits.copy_from_slice(row)).await?;
        }

        let mut text = Unfolding::new(req);
        while text.wants_more() {
            let id = if greedy {
                next_greedy
            } else if top_k.is_some() {
                sampler.sample_from(&next_candidates)
            } else {
                sampler.sample(&next_logits)
            };
            if !text.push(&self.tokenizer, id, on_token) || self.backend.kv_len() + 1 > n_ctx {
                break;
            }
            let step = now();
            if greedy {
                next_greedy = self.backend.forward_scores(&[id], &[0]).await?[0].argmax;
            } else if let Some(k) = top_k {
                next_candidates = self.backend.forward_top_k(&[id], k).await?;
            } else {
                next_logits.copy_from_slice(self.backend.forward(&[id], 1).await?);
            }
            self.cached.push(id);
            self.stats.decode_tokens += 1;
            self.stats.decode_seconds += now() - step;
        }
        Ok(text.finish(truncated, on_token))
    }

    /// Greedy generation for several prompts at once, each in its own region of the cache
    /// ([`Backend::forward_segments`]) after their common beginning, which runs once. Each step
    /// runs a token for every sequence still going and, in the room left, pieces of prompts not
    /// yet run, so a step reads the weights once for all of them. A sequence that ends gives its
    /// region back and the next request that shares the common beginning takes its place, so
    /// steps stay full while the longest generation runs on. A sequence's tokens do not depend on
    /// the others, nor on how its prompt is split over steps (the backend promises it), so each
    /// generation is what this request would get in any batch. Requests go in waves: a wave
    /// lasts while requests share its common beginning.
    async fn generate_together(
        &mut self,
        reqs: &[GenerateRequest],
        prompts: &[(Vec<u32>, bool)],
        on_token: &mut dyn FnMut(usize, &str),
    ) -> Result<Vec<Generation>, EngineError> {
        let (n_ctx, max_batch, max_segments) = (self.backend.n_ctx(), self.backend.max_batch(), self.backend.max_segments());
        let mut out: Vec<Option<Generation>> = vec![None; reqs.len()];
        let mut next = 0;
        while next < reqs.len() {
            // A wave's first members: requests in order while the prompts' common beginning (the
            // shared prefix, run once) and each one's region (the rest of its prompt and every
            // new token) fit.
            let (first, mut members, mut prefix) = (next, 1, prompts[next].0.len() - 1);
            while next + members < reqs.len() && members < max_segments {
                let candidate = &prompts[next + members].0;
                let common = prompts[first].0.iter().zip(candidate).take_while(|(a, b)| a == b).count();
                let p = prefix.min(common).min(candidate.len() - 1);
                let regions: usize = (first..=next + members).map(|i| prompts[i].0.len() - p + reqs[i].max_tokens).sum();
                if p + regions > n_ctx {
                    break;
                }
                prefix = p;
                members += 1;
            }
            let shared = &prompts[first].0[..prefix];
            let region = |i: usize| prompts[i].0.len() - prefix + reqs[i].max_tokens;
            let joins = |i: usize| prompts[i].0.len() > prefix && prompts[i].0[..prefix] == *shared;
            let mut free = FreeSpace(vec![(prefix, n_ctx - prefix)]);
            let mut wave: Vec<Sequence> = Vec::with_capacity(members);
            for index in first..first + members {
                let own_start = free.take(region(index)).expect("the wave's first members fit the context");
                wave.push(Sequence { index, own_start, in_cache: 0, next: None, feed: None, text: Unfolding::new(&reqs[index]) });
            }
            next += members;
            // The shared prefix at the cache's first positions, as a sequence of its own: its
            // tokens' keys are what they would be as any member's first tokens.
            let started = now();
            for (k, chunk) in shared.chunks(max_batch).enumerate() {
                let at = k * max_batch;
                self.backend.forward_segments(at, chunk, &[Segment { own_start: at, done: 0, len: chunk.len() }]).await?;
            }
            self.stats.prefill_tokens += prefix as u64;
            self.stats.prefill_seconds += now() - started;
            loop {
                // Each sequence's new token: taken into its text, and run unless its text ended.
                for seq in wave.iter_mut() {
                    if let Some(token) = seq.next.take() {
                        if seq.text.wants_more() && seq.text.push(&self.tokenizer, token, &mut |t| on_token(seq.index, t)) {
                            seq.feed = Some(token);
                        } else {
                            seq.text.stop();
                        }
                    }
                }
                // Ended sequences give their regions back; waiting requests take them.
                let mut k = 0;
                while k < wave.len() {
                    if wave[k].text.ended {
                        let seq = wave.remove(k);
                        free.give_back(seq.own_start, region(seq.index));
                        out[seq.index] = Some(seq.text.finish(prompts[seq.index].1, &mut |t| on_token(seq.index, t)));
                    } else {
                        k += 1;
                    }
                }
                while next < reqs.len() && wave.len() < max_segments && joins(next) {
                    let Some(own_start) = free.take(region(next)) else { break };
                    wave.push(Sequence { index: next, own_start, in_cache: 0, next: None, feed: None, text: Unfolding::new(&reqs[next]) });
                    next += 1;
                }
                if wave.is_empty() {
                    break;
                }
                // The step: every token to run, then pieces of prompts in the room left.
                let step = now();
                let (mut tokens, mut segments, mut owners) = (Vec::new(), Vec::new(), Vec::new());
                for (k, seq) in wave.iter_mut().enumerate() {
                    if tokens.len() == max_batch {
                        break;
                    }
                    if let Some(token) = seq.feed.take() {
                        tokens.push(token);
                        segments.push(Segment { own_start: seq.own_start, done: seq.in_cache, len: 1 });
                        seq.in_cache += 1;
                        owners.push((k, true));
                    }
                }
                let decoded = tokens.len();
                for (k, seq) in wave.iter_mut().enumerate() {
                    let prompt = &prompts[seq.index].0[prefix..];
                    if seq.in_cache >= prompt.len() || seq.feed.is_some() || seq.next.is_some() {
                        continue;
                    }
                    if tokens.len() == max_batch || segments.len() == max_segments {
                        break;
                    }
                    let len = (prompt.len() - seq.in_cache).min(max_batch - tokens.len());
                    tokens.extend_from_slice(&prompt[seq.in_cache..seq.in_cache + len]);
                    segments.push(Segment { own_start: seq.own_start, done: seq.in_cache, len });
                    seq.in_cache += len;
                    owners.push((k, seq.in_cache == prompt.len()));
                }
                let logits = self.backend.forward_segments(prefix, &tokens, &segments).await?;
                let n_vocab = logits.len() / segments.len();
                for (row, &(k, complete)) in logits.chunks_exact(n_vocab).zip(&owners) {
                    if complete {
                        wave[k].next = Some(argmax(row) as u32);
                    }
                }
                // The step's time, shared between its prompt tokens and its new ones.
                let seconds = now() - step;
                let prefilled = tokens.len() - decoded;
                self.stats.prefill_tokens += prefilled as u64;
                self.stats.prefill_seconds += seconds * prefilled as f64 / tokens.len() as f64;
                self.stats.decode_tokens += decoded as u64;
                self.stats.decode_seconds += seconds * decoded as f64 / tokens.len() as f64;
                if self.interrupted().await {
                    return Err(EngineError::Cancelled);
                }
            }
        }
        Ok(out.into_iter().map(|g| g.expect("every request is in a wave")).collect())
    }
}

/// One request of [`LocalEngine::generate_together`]: where its region lies and its text.
struct Sequence<'r> {
    index: usize,
    own_start: usize,
    /// Tokens of the sequence in its region so far (after the shared prefix).
    in_cache: usize,
    /// The token its last step chose, not yet taken into its text.
    next: Option<u32>,
    /// A token taken into its text, to run at the next step.
    feed: Option<u32>,
    text: Unfolding<'r>,
}

/// The stretches of the cache after a wave's shared prefix that no sequence holds: `(start,
/// len)`, in order, neighbours merged.
struct FreeSpace(Vec<(usize, usize)>);

impl FreeSpace {
    /// The start of `len` positions, from the first stretch that holds them.
    fn take(&mut self, len: usize) -> Option<usize> {
        let i = self.0.iter().position(|&(_, l)| l >= len)?;
        let (start, l) = self.0[i];
        if l == len {
            self.0.remove(i);
        } else {
            self.0[i] = (start + len, l - len);
        }
        Some(start)
    }

    /// A region no longer held.
    fn give_back(&mut self, start: usize, len: usize) {
        let i = self.0.partition_point(|&(s, _)| s < start);
        self.0.insert(i, (start, len));
        if i + 1 < self.0.len() && self.0[i].0 + self.0[i].1 == self.0[i + 1].0 {
            self.0[i].1 += self.0.remove(i + 1).1;
        }
        if i > 0 && self.0[i - 1].0 + self.0[i - 1].1 == self.0[i].0 {
            self.0[i - 1].1 += self.0.remove(i).1;
        }
    }
}

/// A generation's text as its tokens arrive: end-of-generation tokens and stop strings end
/// it, and what can no longer change (complete UTF-8, not a possible start of a stop string)
/// is streamed.
struct Unfolding<'r> {
    req: &'r GenerateRequest,
    ids: Vec<u32>,
    bytes: Vec<u8>,
    /// Bytes of `bytes` already streamed.
    emitted: usize,
    max_stop: usize,
    finish: Finish,
    stop_at: Option<usize>,
    ended: bool,
}

impl<'r> Unfolding<'r> {
    fn new(req: &'r GenerateRequest) -> Self {
        let max_stop = req.stop.iter().map(|s| s.len()).max().unwrap_or(0);
        Unfolding { req, ids: Vec::new(), bytes: Vec::new(), emitted: 0, max_stop, finish: Finish::Length, stop_at: None, ended: false }
    }

    /// Whether another token is wanted.
    fn wants_more(&self) -> bool {
        !self.ended && self.ids.len() < self.req.max_tokens
    }

    /// No more tokens will come (the context is full, or the caller stops).
    fn stop(&mut self) {
        self.ended = true;
    }

    /// Takes the next token; whether the model should run it to make another.
    fn push(&mut self, tokenizer: &Tokenizer, id: u32, on_token: &mut dyn FnMut(&str)) -> bool {
        if !self.req.ignore_eos && tokenizer.is_eog(id) {
            self.finish = Finish::Eos;
            self.ended = true;
            return false;
        }
        self.ids.push(id);
        self.bytes.extend_from_slice(&tokenizer.token_bytes(id));
        // Stop strings: search the text so far (a stop may span tokens).
        let text = String::from_utf8_lossy(&self.bytes);
        if let Some(cut) = self.req.stop.iter().filter(|s| !s.is_empty()).filter_map(|s| text.find(s.as_str())).min() {
            self.stop_at = Some(cut);
            self.finish = Finish::Stop;
            self.ended = true;
            return false;
        }
        // Stream what can no longer change: complete UTF-8, not a possible stop-string prefix.
        let valid = utf8_complete_prefix(&self.bytes);
        let safe = valid.saturating_sub(self.max_stop.saturating_sub(1));
        let safe = floor_char_boundary(&self.bytes[..valid], safe);
        if safe > self.emitted {
            on_token(&String::from_utf8_lossy(&self.bytes[self.emitted..safe]));
            self.emitted = safe;
        }
        self.wants_more()
    }

    /// The generation: the text cut before a stop string, the rest of it streamed.
    fn finish(self, truncated: bool, on_token: &mut dyn FnMut(&str)) -> Generation {
        let mut text = String::from_utf8_lossy(&self.bytes).into_owned();
        if let Some(cut) = self.stop_at {
            text.truncate(cut);
        }
        // `emitted` counts raw bytes; the lossy text is longer wherever invalid bytes became U+FFFD.
        let emitted_text = String::from_utf8_lossy(&self.bytes[..self.emitted]).len();
        if text.len() > emitted_text && text.is_char_boundary(emitted_text) {
            on_token(&text[emitted_text..]);
        }
        Generation { text, ids: self.ids, finish: self.finish, truncated }
    }
}

/// Length of the longest prefix of `b` that does not end inside a UTF-8 sequence. Invalid
/// bytes are final (lossy decoding replaces them whatever follows), so the search goes on past
/// them: an incomplete sequence at the end after an invalid byte is still held back.
fn utf8_complete_prefix(b: &[u8]) -> usize {
    let mut at = 0;
    loop {
        match std::str::from_utf8(&b[at..]) {
            Ok(_) => return b.len(),
            Err(e) => match e.error_len() {
                None => return at + e.valid_up_to(),
                Some(invalid) => at += e.valid_up_to() + invalid,
            },
        }
    }
}

/// The largest char boundary of `b` (valid UTF-8 up to its end) at or below `i`.
fn floor_char_boundary(b: &[u8], mut i: usize) -> usize {
    while i > 0 && i < b.len() && (b[i] & 0xC0) == 0x80 {
        i -= 1;
    }
    i
}

/// Seconds on a clock: monotonic natively, JavaScript's `Date.now()` in the browser (only
/// differences mean anything).
pub fn now() -> f64 {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::sync::OnceLock;
        use std::time::Instant;
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_secs_f64()
    }
    #[cfg(target_arch = "wasm32")]
    {
        // Date.now() (milliseconds) exists in windows and workers alike.
        js_sys::Date::now() / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_whitespace_moves_to_the_continuation() {
        assert_eq!(split_trailing_whitespace("Answer: ", "A"), ("Answer:", " A".to_string()));
        assert_eq!(split_trailing_whitespace("Q\n\n", "yes"), ("Q", "\n\nyes".to_string()));
        assert_eq!(split_trailing_whitespace("x\u{1f}\u{a0}", "y"), ("x", "\u{1f}\u{a0}y".to_string()));
        assert_eq!(split_trailing_whitespace("no space", " B"), ("no space", " B".to_string()));
    }

    #[test]
    fn log_softmax_is_normalised() {
        let row = [1.0f32, 3.0, 2.0, 3.0];
        let total: f64 = (0..4).map(|t| log_softmax_at(&row, t).0.exp()).sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert_eq!(log_softmax_at(&row, 0).1, 1, "ties resolve to the first maximum");
    }

    #[test]
    fn free_space_gives_each_region_positions_no_other_holds() {
        // After a 4-token prefix, 20 positions: regions of 5, 6 and 7, then 2 left.
        let mut free = FreeSpace(vec![(4, 20)]);
        let (a, b, c) = (free.take(5).unwrap(), free.take(6).unwrap(), free.take(7).unwrap());
        assert_eq!((a, b, c), (4, 9, 15));
        assert_eq!(free.take(3), None);
        // The middle one given back: 6 free there and 2 at the end, not 8 anywhere.
        free.give_back(b, 6);
        assert_eq!(free.0, vec![(9, 6), (22, 2)]);
        assert_eq!(free.take(7), None);
        // Its neighbours given back merge with it: before, after, and the tail.
        free.give_back(a, 5);
        assert_eq!(free.0, vec![(4, 11), (22, 2)]);
        free.give_back(c, 7);
        assert_eq!(free.0, vec![(4, 20)]);
        // First fit: the earliest stretch that holds the region.
        let (x, y) = (free.take(4).unwrap(), free.take(4).unwrap());
        free.give_back(x, 4);
        assert_eq!((free.take(5), free.take(3)), (Some(12), Some(4)));
        assert_eq!(y, 8);
    }

    #[test]
    fn streaming_never_splits_a_character() {
        let s = "é€😀".as_bytes();
        assert_eq!(utf8_complete_prefix(&s[..3]), 2);
        assert_eq!(floor_char_boundary(s, 3), 2);
        assert_eq!(floor_char_boundary(s, 5), 5);
        // After an invalid byte, a character begun at the end is still held back (a model's
        // stream of bytes can hold both; the text streamed must be the text at the end).
        assert_eq!(utf8_complete_prefix(&[0xFF, b'a', 0xE2, 0x80]), 2);
        assert_eq!(utf8_complete_prefix(&[0xFF, b'a', 0xE2, 0x80, 0x99]), 5);
        assert_eq!(utf8_complete_prefix(&[b'a', 0xE2, 0x80, b'b']), 4, "an interrupted sequence is final");
    }
}
