//! Tokenizers rebuilt from GGUF metadata so that token ids equal llama.cpp's for any text.
//!
//! Owns text <-> token ids for a model: the vocabulary (`tokenizer.ggml.tokens`, `.scores`,
//! `.token_type`), the two algorithms llama.cpp uses for the models this project runs, and the
//! chat template. It sits on [`crate::gguf`] (metadata only, no tensors) and is used by the engine,
//! the task runner and the CLI.
//!
//! - `tokenizer.ggml.model = "llama"`: SentencePiece-style bigram merging by score with `<0xNN>`
//!   byte fallback (`spm.rs`); Gemma 1/2/3, Llama 2, Mistral, TinyLlama.
//! - `tokenizer.ggml.model = "gpt2"`: byte-level BPE with a pre-tokenizer chosen by
//!   `tokenizer.ggml.pre` (`bpe.rs`, `pretokenize.rs`, `pre_types.rs`); Llama 3, Qwen 2/3, SmolLM, Phi-3.5/4, ...
//!
//! Everything follows llama.cpp's `src/llama-vocab.cpp` and `src/unicode.cpp` as vendored by
//! llama-cpp-python 0.3.36 (ported, not copied), including its quirks, because the reference
//! numbers this project compares with are computed on llama.cpp's ids. `tests/tokenizer.rs` checks
//! ids, pieces and detokenized text against fixtures made by llama.cpp
//! (`scripts/make_tokenizer_fixtures.py`):
//!
//! - Special tokens are cut out of the text first (`special.rs`): CONTROL and UNKNOWN tokens only
//!   with `parse_special`, USER_DEFINED tokens always. Gemma's vocabulary marks `"\n"`, runs of
//!   spaces and tabs and HTML tags like `<table>` as USER_DEFINED, so they always come out as
//!   their own tokens.
//! - Some token texts change type at load as in llama.cpp: texts that mean "end of turn"
//!   (`<end_of_turn>`, `<|im_end|>`, `<|eot_id|>`, `</s>`, ...) become CONTROL and end-of-generation
//!   tokens whatever the file says. For Gemma 3 that makes the USER_DEFINED `</s>` a CONTROL token:
//!   it is no longer matched in text without `parse_special`, and it decodes to nothing.
//! - The SPM space prefix (`add_space_prefix`) is added before the first text fragment and after
//!   every special token, and decoding drops one leading space of the first token.
//!
//! Encoding a prompt built from a chat template should not let message content turn into control
//! tokens: [`Tokenizer::encode_chat`] renders the template and parses special-token text only in
//! the template's own parts (see its docs).

mod bpe;
mod chat;
mod pre_types;
mod pretokenize;
mod special;
mod spm;
mod unicode;
mod unicode_data;

use crate::gguf::{ByteSource, Gguf, GgufError, MetadataValue};

/// A symbol of a word being merged, as both merge algorithms keep it: a doubly linked list over
/// the word's bytes, as llama.cpp's `llm_symbol`.
#[derive(Clone, Copy)]
struct Symbol {
    /// Byte range of the symbol in the text: `start .. start + n`; `n == 0` once merged away.
    start: usize,
    n: usize,
    /// Neighbours' indices, -1 at the ends.
    prev: isize,
    next: isize,
}
use special::{Fragment, SpecialToken, Specials};
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

/// Token attributes (`llama_token_attr` in llama.h); a token's type maps to one of them and
/// load-time rules add more.
pub(crate) mod attr {
    pub const UNDEFINED: u32 = 0;
    pub const UNKNOWN: u32 = 1 << 0;
    pub const UNUSED: u32 = 1 << 1;
    pub const NORMAL: u32 = 1 << 2;
    pub const CONTROL: u32 = 1 << 3;
    pub const USER_DEFINED: u32 = 1 << 4;
    pub const BYTE: u32 = 1 << 5;
    pub const LSTRIP: u32 = 1 << 7;
    pub const RSTRIP: u32 = 1 << 8;

    /// `tokenizer.ggml.token_type` value to attribute (`llama_token_type` -> `llama_token_attr`).
    pub fn from_type(t: i64) -> u32 {
        match t {
            1 => NORMAL,
            2 => UNKNOWN,
            3 => CONTROL,
            4 => USER_DEFINED,
            5 => UNUSED,
            6 => BYTE,
            _ => UNDEFINED,
        }
    }
}

/// What can go wrong building a tokenizer or rendering a chat template. Variants name the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenizerError {
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error("tokenizer.ggml.model is {0:?}; supported: \"llama\" (SentencePiece) and \"gpt2\" (byte-level BPE)")]
    UnsupportedModel(String),
    #[error("tokenizer.ggml.pre is {0:?}, a pre-tokenizer this crate does not implement")]
    UnsupportedPreTokenizer(String),
    #[error("metadata key {key:?}: {problem}")]
    BadMetadata { key: String, problem: String },
    #[error("duplicate token in tokenizer.ggml.tokens: {text:?} has ids {first} and {second}")]
    DuplicateToken { text: String, first: u32, second: u32 },
    #[error("{flag} is true, but {id_key} is not set")]
    MissingSpecialToken { flag: &'static str, id_key: &'static str },
    #[error("pre-tokenizer pattern {pattern:?} does not compile: {message}")]
    BadPattern { pattern: String, message: String },
    #[error("the model has no chat template (tokenizer.chat_template)")]
    NoChatTemplate,
    #[error("chat template: {0}")]
    ChatTemplate(String),
}

/// A small, fast hasher (FxHash) for the piece -> id maps: SipHash dominates tokenization time
/// otherwise, and the keys are not attacker-chosen in a way that matters here.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let v = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            h = (h.rotate_left(5) ^ v).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ b as u64).wrapping_mul(K);
        }
        self.0 = h;
    }
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u32(&mut self, i: u32) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, i: usize) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FxBuild = BuildHasherDefault<FxHasher>;

/// The vocabulary: texts, scores, attributes, and the text -> id map.
#[derive(Debug)]
pub(crate) struct Vocab {
    texts: Vec<Box<str>>,
    scores: Vec<f32>,
    attrs: Vec<u32>,
    ids: HashMap<Box<str>, u32, FxBuild>,
    /// SPM byte fallback: the id of `<0xNN>` (or, failing that, of the one-byte text), per byte
    /// (`llama_vocab::byte_to_token`). llama.cpp throws when neither exists; such bytes are
    /// dropped here.
    byte_pieces: Vec<Option<u32>>,
}

impl Vocab {
    pub(crate) fn id(&self, text: &str) -> Option<u32> {
        self.ids.get(text).copied()
    }
    pub(crate) fn score(&self, id: u32) -> f32 {
        self.scores[id as usize]
    }
    pub(crate) fn byte_piece(&self, b: u8) -> Option<u32> {
        self.byte_pieces[b as usize]
    }
    fn len(&self) -> usize {
        self.texts.len()
    }
}

#[derive(Debug)]
enum Model {
    Spm,
    Bpe(bpe::Bpe),
}

/// A tokenizer that reproduces llama.cpp's `llama_tokenize` / `llama_token_to_piece` /
/// `llama_detokenize` for one model's vocabulary.
#[derive(Debug)]
pub struct Tokenizer {
    vocab: Vocab,
    model: Model,
    specials: Specials,
    bos: Option<u32>,
    eos: Option<u32>,
    eot: Option<u32>,
    eom: Option<u32>,
    unk: Option<u32>,
    pad: Option<u32>,
    add_bos: bool,
    add_eos: bool,
    add_space_prefix: bool,
    clean_spaces: bool,
    eog: BTreeSet<u32>,
    pre: Option<String>,
    chat_template: Option<String>,
}

/// Texts llama.cpp treats as end-of-generation whatever their type (`special_eog_ids`).
const EOG_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
];
const EOT_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "<｜end▁of▁sentence｜>",
    "<end_of_utterance>",
];
const FIM_PAD_TEXTS: &[&str] = &["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"];
const FIM_REP_TEXTS: &[&str] = &["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"];
const FIM_SEP_TEXTS: &[&str] = &["<|file_sep|>"];

fn meta_bool<S: ByteSource>(g: &Gguf<S>, key: &str) -> Result<Option<bool>, TokenizerError> {
    match g.get(key) {
        None => Ok(None),
        Some(v) => v.as_bool().map(Some).ok_or_else(|| TokenizerError::BadMetadata {
            key: key.into(),
            problem: format!("is {}, expected a boolean", v.type_name()),
        }),
    }
}

fn meta_str<'g, S: ByteSource>(g: &'g Gguf<S>, key: &str) -> Result<Option<&'g str>, TokenizerError> {
    match g.get(key) {
        None => Ok(None),
        Some(v) => v.as_str().map(Some).ok_or_else(|| TokenizerError::BadMetadata {
            key: key.into(),
            problem: format!("is {}, expected a string", v.type_name()),
        }),
    }
}

fn meta_array<'g, S: ByteSource>(g: &'g Gguf<S>, key: &str) -> Result<Option<&'g [MetadataValue]>, TokenizerError> {
    match g.get(key) {
        None => Ok(None),
        Some(v) => v.as_array().map(Some).ok_or_else(|| TokenizerError::BadMetadata {
            key: key.into(),
            problem: format!("is {}, expected an array", v.type_name()),
        }),
    }
}

const K_MODEL: &str = "tokenizer.ggml.model";
const K_PRE: &str = "tokenizer.ggml.pre";
const K_TOKENS: &str = "tokenizer.ggml.tokens";
const K_SCORES: &str = "tokenizer.ggml.scores";
const K_TYPES: &str = "tokenizer.ggml.token_type";
const K_MERGES: &str = "tokenizer.ggml.merges";

fn bad(key: &str, problem: String) -> TokenizerError {
    TokenizerError::BadMetadata {
        key: key.into(),
        problem,
    }
}

/// Reads `tokenizer.ggml.tokens`, `.scores` and `.token_type` (`llama_vocab::impl::load`): an
/// empty text becomes `[EMPTY_<id>]`, a repeated text is an error, absent scores are 0 and absent
/// types NORMAL.
fn read_vocab<S: ByteSource>(g: &Gguf<S>) -> Result<Vocab, TokenizerError> {
    let tokens = g.get_array(K_TOKENS)?;
    let n = tokens.len();
    if n == 0 || n > u32::MAX as usize / 2 {
        return Err(bad(K_TOKENS, format!("has {n} entries")));
    }
    let scores_v = meta_array(g, K_SCORES)?;
    let types_v = meta_array(g, K_TYPES)?;
    for (key, v) in [(K_SCORES, scores_v), (K_TYPES, types_v)] {
        if let Some(v) = v.filter(|v| v.len() < n) {
            return Err(bad(key, format!("has {} entries for {n} tokens", v.len())));
        }
    }

    let mut texts: Vec<Box<str>> = Vec::with_capacity(n);
    let mut scores = Vec::with_capacity(n);
    let mut attrs = Vec::with_capacity(n);
    let mut ids: HashMap<Box<str>, u32, FxBuild> = HashMap::with_capacity_and_hasher(n, FxBuild::default());
    for (i, v) in tokens.iter().enumerate() {
        let text = v
            .as_str()
            .ok_or_else(|| bad(K_TOKENS, format!("entry {i} is {}, expected a string", v.type_name())))?;
        let text: Box<str> = if text.is_empty() {
            format!("[EMPTY_{i}]").into()
        } else {
            text.into()
        };
        if let Some(&first) = ids.get(&text) {
            return Err(TokenizerError::DuplicateToken {
                text: text.into(),
                first,
                second: i as u32,
            });
        }
        ids.insert(text.clone(), i as u32);
        texts.push(text);
        scores.push(match scores_v {
            Some(s) => s[i].as_f64().ok_or_else(|| {
                bad(
                    K_SCORES,
                    format!("entry {i} is {}, expected a number", s[i].type_name()),
                )
            })? as f32,
            None => 0.0,
        });
        attrs.push(match types_v {
            Some(t) => attr::from_type(t[i].as_i64().ok_or_else(|| {
                bad(
                    K_TYPES,
                    format!("entry {i} is {}, expected an integer", t[i].type_name()),
                )
            })?),
            None => attr::NORMAL,
        });
    }
    let byte_pieces = (0..=255u8)
        .map(|b| {
            ids.get(format!("<0x{b:02X}>").as_str())
                .or_else(|| std::str::from_utf8(&[b]).ok().and_then(|s| ids.get(s)))
                .copied()
        })
        .collect();
    Ok(Vocab {
        texts,
        scores,
        attrs,
        ids,
        byte_pieces,
    })
}

/// The BPE half of a `gpt2` tokenizer: merges and the pre-tokenizer `tokenizer.ggml.pre` names.
fn read_bpe<S: ByteSource>(g: &Gguf<S>, spec: &pre_types::PreSpec) -> Result<bpe::Bpe, TokenizerError> {
    let merges_v = g.get_array(K_MERGES)?;
    let mut lines = Vec::with_capacity(merges_v.len());
    for (i, v) in merges_v.iter().enumerate() {
        lines.push(
            v.as_str()
                .ok_or_else(|| bad(K_MERGES, format!("entry {i} is {}, expected a string", v.type_name())))?,
        );
    }
    let merges = bpe::Merges::new(lines.into_iter());
    let pre = pretokenize::PreTokenizer::new(spec.patterns).map_err(|e| TokenizerError::BadPattern {
        pattern: e.pattern,
        message: e.message,
    })?;
    Ok(bpe::Bpe {
        pre,
        merges,
        ignore_merges: spec.ignore_merges,
    })
}

/// Special token ids, as `llama_vocab::impl` keeps them.
#[derive(Debug, Default)]
struct SpecialIds {
    bos: Option<u32>,
    eos: Option<u32>,
    eot: Option<u32>,
    eom: Option<u32>,
    unk: Option<u32>,
    sep: Option<u32>,
    pad: Option<u32>,
    mask: Option<u32>,
    fim_pre: Option<u32>,
    fim_suf: Option<u32>,
    fim_mid: Option<u32>,
    fim_pad: Option<u32>,
    fim_rep: Option<u32>,
    fim_sep: Option<u32>,
}

impl SpecialIds {
    /// Overrides the model's defaults with `tokenizer.ggml.*_token_id`: a default outside the
    /// vocabulary is disabled; an id from the file outside it is ignored (llama.cpp warns and
    /// keeps the default).
    fn read<S: ByteSource>(&mut self, g: &Gguf<S>, n: usize) -> Result<(), TokenizerError> {
        let read = |key: &str, slot: &mut Option<u32>| -> Result<(), TokenizerError> {
            if slot.is_some_and(|id| id as usize >= n) {
                *slot = None;
            }
            if let Some(v) = g.get(key) {
                let id = v
                    .as_i64()
                    .ok_or_else(|| bad(key, format!("is {}, expected an integer", v.type_name())))?;
                if id >= 0 && (id as usize) < n {
                    *slot = Some(id as u32);
                }
            }
            Ok(())
        };
        read("tokenizer.ggml.bos_token_id", &mut self.bos)?;
        read("tokenizer.ggml.eos_token_id", &mut self.eos)?;
        read("tokenizer.ggml.eot_token_id", &mut self.eot)?;
        read("tokenizer.ggml.eom_token_id", &mut self.eom)?;
        read("tokenizer.ggml.unknown_token_id", &mut self.unk)?;
        read("tokenizer.ggml.seperator_token_id", &mut self.sep)?;
        read("tokenizer.ggml.padding_token_id", &mut self.pad)?;
        read("tokenizer.ggml.mask_token_id", &mut self.mask)?;
        read("tokenizer.ggml.fim_pre_token_id", &mut self.fim_pre)?;
        read("tokenizer.ggml.fim_suf_token_id", &mut self.fim_suf)?;
        read("tokenizer.ggml.fim_mid_token_id", &mut self.fim_mid)?;
        read("tokenizer.ggml.fim_pad_token_id", &mut self.fim_pad)?;
        read("tokenizer.ggml.fim_rep_token_id", &mut self.fim_rep)?;
        read("tokenizer.ggml.fim_sep_token_id", &mut self.fim_sep)?;
        // Deprecated names of the FIM ids, read last as in llama.cpp.
        read("tokenizer.ggml.prefix_token_id", &mut self.fim_pre)?;
        read("tokenizer.ggml.suffix_token_id", &mut self.fim_suf)?;
        read("tokenizer.ggml.middle_token_id", &mut self.fim_mid)?;
        Ok(())
    }
}

/// llama.cpp's load-time rules that go by token text: finding EOT/EOM/FIM tokens that the file
/// does not name (llama.cpp walks a hash map, so when several candidate texts exist the one it
/// picks is unspecified; here the lowest id wins), promoting them and every end-of-generation
/// text to CONTROL, marking CONTROL tokens named "unused" UNUSED, and the gpt-oss / Gemma 4
/// exceptions. Returns the end-of-generation set.
fn apply_text_rules(vocab: &mut Vocab, sp: &mut SpecialIds) -> BTreeSet<u32> {
    let detect = |slot: &mut Option<u32>, candidates: &[&str], vocab: &mut Vocab| {
        if slot.is_some() {
            return;
        }
        if let Some(id) = candidates.iter().filter_map(|t| vocab.id(t)).min() {
            *slot = Some(id);
            vocab.attrs[id as usize] |= attr::CONTROL;
        }
    };
    detect(&mut sp.eot, EOT_TEXTS, vocab);
    detect(&mut sp.eom, &["<|eom_id|>"], vocab);
    detect(&mut sp.fim_pad, FIM_PAD_TEXTS, vocab);
    detect(&mut sp.fim_rep, FIM_REP_TEXTS, vocab);
    detect(&mut sp.fim_sep, FIM_SEP_TEXTS, vocab);

    for (a, t) in vocab.attrs.iter_mut().zip(vocab.texts.iter()) {
        if *a & attr::CONTROL != 0 && t.contains("unused") {
            *a |= attr::UNUSED;
        }
    }

    let mut eog = BTreeSet::new();
    eog.extend(sp.fim_pad);
    eog.extend(sp.fim_rep);
    eog.extend(sp.fim_sep);
    for t in EOG_TEXTS {
        if let Some(id) = vocab.id(t) {
            eog.insert(id);
            vocab.attrs[id as usize] |= attr::CONTROL;
        }
    }
    // gpt-oss: these are always rendered.
    for t in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
        if let Some(id) = vocab.id(t) {
            vocab.attrs[id as usize] = attr::USER_DEFINED;
        }
    }
    eog.extend(sp.eos);
    eog.extend(sp.eot);
    eog.extend(sp.eom);

    let in_eog = |t: &str| vocab.id(t).filter(|id| eog.contains(id));
    let (end, call, ret, flush) = (
        in_eog("<|end|>"),
        in_eog("<|call|>").or(in_eog("<|calls|>")).is_some(),
        in_eog("<|return|>").is_some(),
        in_eog("<|flush|>").is_some(),
    );
    let (tool_response, eos_s) = (in_eog("<|tool_response>").is_some(), in_eog("</s>"));
    // o200k_harmony / solar-open: "<|end|>" does not end generation there.
    if let Some(end) = end.filter(|_| call && (ret || flush)) {
        eog.remove(&end);
        vocab.attrs[end as usize] = attr::USER_DEFINED;
    }
    // Gemma 4 / PaddleOCR: "</s>" does not end generation when "<|tool_response>" does.
    if let Some(s) = eos_s.filter(|_| tool_response) {
        eog.remove(&s);
        vocab.attrs[s as usize] = attr::NORMAL;
    }
    eog
}

impl Tokenizer {
    /// Builds the tokenizer from a GGUF file's `tokenizer.*` metadata, applying llama.cpp's
    /// defaults for absent keys (`llama_vocab::impl::load`).
    ///
    /// Errors name the key: a missing `tokenizer.ggml.model`/`.tokens` (or `.merges` for BPE), a
    /// value of the wrong type, an unsupported model or pre-tokenizer, a repeated token text, or
    /// `add_bos_token`/`add_eos_token` set without the token.
    pub fn from_gguf<S: ByteSource>(g: &Gguf<S>) -> Result<Tokenizer, TokenizerError> {
        let model_name = g.get_str(K_MODEL)?;
        let pre_name = meta_str(g, K_PRE)?;
        let mut vocab = read_vocab(g)?;
        let n = vocab.len();

        // Defaults by model type (and BPE pre-tokenizer).
        let mut sp = SpecialIds::default();
        let (model, mut add_bos, mut add_space_prefix, clean_spaces) = match model_name {
            "llama" => {
                (sp.bos, sp.eos, sp.unk) = (Some(1), Some(2), Some(0));
                (Model::Spm, true, true, false)
            }
            "gpt2" => {
                let pre_key = pre_name.unwrap_or("default");
                let spec = pre_types::pre_spec(pre_key)
                    .ok_or_else(|| TokenizerError::UnsupportedPreTokenizer(pre_key.to_string()))?;
                (sp.bos, sp.eos) = (if spec.no_default_bos { None } else { Some(11) }, Some(11));
                (Model::Bpe(read_bpe(g, &spec)?), spec.add_bos, false, spec.clean_spaces)
            }
            other => return Err(TokenizerError::UnsupportedModel(other.to_string())),
        };
        let mut add_eos = false;
        // llama.cpp reads this for BPE vocabularies too: encoding ignores it there, but decoding
        // still drops the first token's leading space when it is set.
        if let Some(v) = meta_bool(g, "tokenizer.ggml.add_space_prefix")? {
            add_space_prefix = v;
        }
        sp.read(g, n)?;
        if let Some(v) = meta_bool(g, "tokenizer.ggml.add_bos_token")? {
            add_bos = v;
        }
        if let Some(v) = meta_bool(g, "tokenizer.ggml.add_eos_token")? {
            add_eos = v;
        }
        if add_bos && sp.bos.is_none() {
            return Err(TokenizerError::MissingSpecialToken {
                flag: "tokenizer.ggml.add_bos_token",
                id_key: "tokenizer.ggml.bos_token_id",
            });
        }
        if add_eos && sp.eos.is_none() {
            return Err(TokenizerError::MissingSpecialToken {
                flag: "tokenizer.ggml.add_eos_token",
                id_key: "tokenizer.ggml.eos_token_id",
            });
        }

        let eog = apply_text_rules(&mut vocab, &mut sp);

        // The tokens cut out of text before tokenization; then Phi-3's strip attributes, which
        // llama.cpp sets by model name (the only name-based rule for the families run here).
        let special_ids: Vec<u32> = (0..n as u32)
            .filter(|&id| vocab.attrs[id as usize] & (attr::CONTROL | attr::USER_DEFINED | attr::UNKNOWN) != 0)
            .collect();
        if let Some(name) = meta_str(g, "general.name")? {
            let name = name.to_ascii_lowercase();
            if name.contains("phi-3") || name.contains("phi3") {
                for &id in &special_ids {
                    vocab.attrs[id as usize] |= attr::RSTRIP;
                }
                if let Some(id) = vocab.id("</s>") {
                    vocab.attrs[id as usize] |= attr::RSTRIP;
                }
                for t in ["<unk>", "<s>", "<|endoftext|>"] {
                    if let Some(id) = vocab.id(t) {
                        vocab.attrs[id as usize] &= !attr::RSTRIP;
                    }
                }
            }
        }
        let specials = Specials::new(
            special_ids
                .iter()
                .map(|&id| SpecialToken {
                    id,
                    text: vocab.texts[id as usize].clone(),
                    attr: vocab.attrs[id as usize],
                })
                .collect(),
        );

        let is_bpe = matches!(model, Model::Bpe(_));
        Ok(Tokenizer {
            vocab,
            model,
            specials,
            bos: sp.bos,
            eos: sp.eos,
            eot: sp.eot,
            eom: sp.eom,
            unk: sp.unk,
            pad: sp.pad,
            add_bos,
            add_eos,
            add_space_prefix,
            clean_spaces,
            eog,
            pre: is_bpe.then(|| pre_name.unwrap_or("default").to_string()),
            chat_template: meta_str(g, "tokenizer.chat_template")?.map(str::to_string),
        })
    }

    /// Token ids for `text`, as `llama_tokenize(text, add_special, parse_special)`.
    ///
    /// `add_special` adds BOS and/or EOS as the model's `add_bos_token`/`add_eos_token` say.
    /// `parse_special` lets CONTROL (and UNKNOWN) token texts in `text`, like `<start_of_turn>`,
    /// become those tokens; without it they are tokenized as plain text. USER_DEFINED tokens are
    /// matched either way, as in llama.cpp.
    pub fn encode(&self, text: &str, add_special: bool, parse_special: bool) -> Vec<u32> {
        self.encode_segments(&[(text, parse_special)], add_special)
    }

    /// Like [`encode`](Self::encode) for the concatenation of `segments`, where each segment says
    /// whether special-token text inside it may become special tokens. Raw text that meets at a
    /// segment boundary is tokenized as one piece, so the ids equal `encode(concatenation,
    /// add_special, true)` except that special-token text inside a `false` segment stays text.
    pub fn encode_segments(&self, segments: &[(&str, bool)], add_special: bool) -> Vec<u32> {
        let mut full = String::with_capacity(segments.iter().map(|(s, _)| s.len()).sum());
        let mut parsed: Vec<(usize, usize)> = Vec::new();
        for &(text, parse_special) in segments {
            if parse_special {
                parsed.push((full.len(), full.len() + text.len()));
            }
            full.push_str(text);
        }
        // One pass over the whole text, so that a user-defined token (Gemma's runs of newlines)
        // can span a segment boundary as it does in the concatenation; control tokens only
        // inside segments that allow them.
        let mut fragments: Vec<Fragment> = Vec::new();
        let allowed = |_: &special::SpecialToken, s: usize, e: usize| parsed.iter().any(|&(a, b)| a <= s && e <= b);
        self.specials.partition_where(&full, &allowed, &mut fragments);
        self.encode_fragments(&full, &fragments, add_special)
    }

    fn encode_fragments(&self, text: &str, fragments: &[Fragment], add_special: bool) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
        if add_special && self.add_bos {
            out.extend(self.bos);
        }
        match &self.model {
            Model::Spm => {
                let mut prev_special = true;
                let mut buf = String::new();
                for f in fragments {
                    match *f {
                        Fragment::Text { start, end } => {
                            buf.clear();
                            if self.add_space_prefix && prev_special {
                                buf.push('\u{2581}');
                            }
                            for c in text[start..end].chars() {
                                buf.push(if c == ' ' { '\u{2581}' } else { c });
                            }
                            spm::tokenize(&self.vocab, &buf, &mut out);
                            prev_special = false;
                        }
                        Fragment::Token(id) => {
                            out.push(id);
                            prev_special = true;
                        }
                    }
                }
            }
            Model::Bpe(bpe) => {
                for f in fragments {
                    match *f {
                        Fragment::Text { start, end } => bpe.tokenize(&self.vocab, &text[start..end], &mut out),
                        Fragment::Token(id) => out.push(id),
                    }
                }
            }
        }
        if add_special && self.add_eos {
            out.extend(self.eos);
        }
        out
    }

    /// The bytes of one token as `llama_token_to_piece(id, special = false)` gives them: nothing
    /// for CONTROL and UNKNOWN tokens (and for UNUSED/undefined ones), the raw byte for
    /// `<0xNN>` byte tokens, U+2581 turned into a space for SPM pieces, the GPT-2 byte decoding
    /// for BPE pieces, and USER_DEFINED tokens verbatim. A piece may be part of a UTF-8 sequence.
    /// An id outside the vocabulary gives nothing.
    pub fn token_bytes(&self, id: u32) -> Cow<'_, [u8]> {
        let Some(&a) = self.vocab.attrs.get(id as usize) else {
            return Cow::Borrowed(&[]);
        };
        if a & (attr::UNKNOWN | attr::CONTROL) != 0 {
            return Cow::Borrowed(&[]);
        }
        let text = &self.vocab.texts[id as usize];
        if a & attr::USER_DEFINED != 0 {
            return Cow::Borrowed(text.as_bytes());
        }
        if a & attr::NORMAL != 0 {
            return match &self.model {
                Model::Spm => {
                    if text.contains('\u{2581}') {
                        Cow::Owned(text.replace('\u{2581}', " ").into_bytes())
                    } else {
                        Cow::Borrowed(text.as_bytes())
                    }
                }
                Model::Bpe(_) => Cow::Owned(bpe::decode_text(text)),
            };
        }
        if a & attr::BYTE != 0 {
            return Cow::Owned(vec![byte_of_piece(text)]);
        }
        Cow::Borrowed(&[])
    }

    /// Bytes of a token sequence as `llama_detokenize(ids, remove_special = false,
    /// unparse_special = false)`: the pieces concatenated, one leading space dropped from the
    /// first token when the model adds a space prefix (SPM), and for most BPE pre-tokenizers
    /// llama.cpp's `clean_up_tokenization_spaces` pass (" ." -> ".", " 's" -> "'s", ...).
    pub fn decode_bytes(&self, ids: &[u32]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut remove_space = self.add_space_prefix;
        for &id in ids {
            let piece = self.token_bytes(id);
            let mut p: &[u8] = &piece;
            if remove_space && p.first() == Some(&b' ') {
                p = &p[1..];
            }
            // llama.cpp clears the flag after the first token even when it printed nothing.
            remove_space = false;
            out.extend_from_slice(p);
        }
        if self.clean_spaces {
            clean_up_spaces(&mut out);
        }
        out
    }

    /// [`decode_bytes`](Self::decode_bytes) as text, invalid UTF-8 replaced by U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> String {
        String::from_utf8_lossy(&self.decode_bytes(ids)).into_owned()
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    /// The BOS token, if the model has one.
    pub fn bos(&self) -> Option<u32> {
        self.bos
    }

    /// The EOS token, if the model has one.
    pub fn eos(&self) -> Option<u32> {
        self.eos
    }

    /// The end-of-turn token (`tokenizer.ggml.eot_token_id`, or found by text).
    pub fn eot(&self) -> Option<u32> {
        self.eot
    }

    /// The end-of-message token (`<|eom_id|>`).
    pub fn eom(&self) -> Option<u32> {
        self.eom
    }

    /// The unknown-piece token.
    pub fn unk(&self) -> Option<u32> {
        self.unk
    }

    /// The padding token.
    pub fn pad(&self) -> Option<u32> {
        self.pad
    }

    /// Whether `encode(.., add_special = true, ..)` prepends BOS.
    ///
    /// Getting this wrong silently shifts every log-likelihood: Gemma without its BOS scores far
    /// worse; Qwen 2 has no BOS to add.
    pub fn add_bos(&self) -> bool {
        self.add_bos
    }

    /// Whether `encode(.., add_special = true, ..)` appends EOS.
    pub fn add_eos(&self) -> bool {
        self.add_eos
    }

    /// Whether SPM text gets a leading space (`tokenizer.ggml.add_space_prefix`; llama.cpp's
    /// default is true for SPM, false for BPE), and decoding drops one from the first token.
    pub fn add_space_prefix(&self) -> bool {
        self.add_space_prefix
    }

    /// Whether `id` ends generation (`llama_vocab_is_eog`): EOS, EOT, EOM, FIM pad/repo/sep and
    /// every token whose text is one llama.cpp lists (`<end_of_turn>`, `<|im_end|>`,
    /// `<|eot_id|>`, `<|endoftext|>`, `<|end|>`, `</s>`, ...).
    pub fn is_eog(&self, id: u32) -> bool {
        self.eog.contains(&id)
    }

    /// All end-of-generation tokens, ascending.
    pub fn eog_tokens(&self) -> impl Iterator<Item = u32> + '_ {
        self.eog.iter().copied()
    }

    /// The id of the token whose text is exactly `text`.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.vocab.id(text)
    }

    /// The vocabulary text of token `id` (U+2581 for spaces in SPM, GPT-2 byte encoding in BPE).
    pub fn token_text(&self, id: u32) -> Option<&str> {
        self.vocab.texts.get(id as usize).map(|t| &**t)
    }

    /// Whether `id` is a CONTROL token (BOS, EOS, `<start_of_turn>`, ...).
    pub fn is_control(&self, id: u32) -> bool {
        self.vocab
            .attrs
            .get(id as usize)
            .is_some_and(|a| a & attr::CONTROL != 0)
    }

    /// `"spm"` or `"bpe"`.
    pub fn kind(&self) -> &'static str {
        match self.model {
            Model::Spm => "spm",
            Model::Bpe(_) => "bpe",
        }
    }

    /// The BPE pre-tokenizer name (`tokenizer.ggml.pre`, `"default"` when absent); `None` for SPM.
    pub fn pre_tokenizer(&self) -> Option<&str> {
        self.pre.as_deref()
    }

    /// Number of BPE merges (0 for SPM).
    pub fn n_merges(&self) -> usize {
        match &self.model {
            Model::Spm => 0,
            Model::Bpe(b) => b.merges.len(),
        }
    }

    /// Number of tokens matched in text before tokenization (CONTROL, USER_DEFINED, UNKNOWN).
    pub fn n_special(&self) -> usize {
        self.specials.len()
    }

    /// The model's chat template (`tokenizer.chat_template`), if any.
    pub fn chat_template(&self) -> Option<&str> {
        self.chat_template.as_deref()
    }

    /// Renders the model's chat template for `messages` (`(role, content)` pairs) as
    /// llama-cpp-python does with jinja2 (`bos_token`/`eos_token` are the BOS/EOS texts).
    ///
    /// The result is text: tokenizing it with `encode(.., parse_special = true)` turns the
    /// template's markers into control tokens, but would do the same to marker text inside a
    /// message. Use [`encode_chat`](Self::encode_chat) to keep message content as text.
    pub fn apply_chat_template(
        &self,
        messages: &[(String, String)],
        add_generation_prompt: bool,
    ) -> Result<String, TokenizerError> {
        let template = self.chat_template.as_deref().ok_or(TokenizerError::NoChatTemplate)?;
        self.apply_chat_template_with(template, messages, add_generation_prompt)
    }

    /// [`apply_chat_template`](Self::apply_chat_template) with a given template instead of the
    /// model's.
    pub fn apply_chat_template_with(
        &self,
        template: &str,
        messages: &[(String, String)],
        add_generation_prompt: bool,
    ) -> Result<String, TokenizerError> {
        let msgs: Vec<(&str, &str)> = messages.iter().map(|(r, c)| (r.as_str(), c.as_str())).collect();
        chat::render(
            template,
            &msgs,
            add_generation_prompt,
            self.special_text(self.bos),
            self.special_text(self.eos),
        )
        .map_err(TokenizerError::ChatTemplate)
    }

    /// Token ids of a chat prompt: the rendered template with its markers parsed as special
    /// tokens, and message content tokenized with `parse_special = false`, so a message that
    /// contains `<end_of_turn>` cannot close its own turn.
    ///
    /// The content is located by rendering a second time with each message wrapped in
    /// Unicode-noncharacter markers (and a third time with the content pre-trimmed, for
    /// templates that `| trim` it); if neither marked render equals the real one once the markers
    /// are removed (a template that rewrites content), the whole prompt is parsed with
    /// `parse_special = true`, which is what llama.cpp itself does. Raw text that meets at a
    /// content boundary is tokenized as one piece, so for content without special-token text the
    /// ids equal llama.cpp's `tokenize(render, add_special, parse_special = true)`.
    ///
    /// BOS is added per [`add_bos`](Self::add_bos) unless the template already starts with it
    /// (Gemma's template writes `<bos>` itself; llama.cpp also avoids the double BOS).
    pub fn encode_chat(
        &self,
        messages: &[(String, String)],
        add_generation_prompt: bool,
    ) -> Result<Vec<u32>, TokenizerError> {
        let template = self.chat_template.as_deref().ok_or(TokenizerError::NoChatTemplate)?;
        self.encode_chat_with(template, messages, add_generation_prompt)
    }

    /// [`encode_chat`](Self::encode_chat) with a given template instead of the model's.
    pub fn encode_chat_with(
        &self,
        template: &str,
        messages: &[(String, String)],
        add_generation_prompt: bool,
    ) -> Result<Vec<u32>, TokenizerError> {
        let segments = self.chat_segments(template, messages, add_generation_prompt)?;
        let segs: Vec<(&str, bool)> = segments.iter().map(|(s, special)| (s.as_str(), *special)).collect();
        Ok(self.chat_ids(&segs))
    }

    /// The rendered chat prompt as segments, each saying whether special-token text in it is
    /// parsed (template markup) or kept as text (message content). A template that rewrites
    /// content gives one segment, parsed whole (llama.cpp's behaviour).
    fn chat_segments(
        &self,
        template: &str,
        messages: &[(String, String)],
        add_generation_prompt: bool,
    ) -> Result<Vec<(String, bool)>, TokenizerError> {
        let plain = self.apply_chat_template_with(template, messages, add_generation_prompt)?;
        let msgs: Vec<(&str, &str)> = messages.iter().map(|(r, c)| (r.as_str(), c.as_str())).collect();
        let bos_text = self.special_text(self.bos);
        let eos_text = self.special_text(self.eos);
        Ok(match chat::render_segments(template, &msgs, add_generation_prompt, bos_text, eos_text, &plain) {
            Some(segments) => segments.into_iter().map(|(s, content)| (s, !content)).collect(),
            None => vec![(plain, true)],
        })
    }

    /// Token ids of a chat context (the model's template, generation prompt added) and of the
    /// context followed by `continuation`, split as lm-evaluation-harness splits a rendered
    /// chat context: trailing whitespace of the rendering (the newline after the assistant
    /// marker) moves to the front of the continuation. Returns `(context_ids, whole_ids)`;
    /// the continuation's tokens are `whole_ids[context_ids.len()..]`.
    pub fn encode_chat_continuation(
        &self,
        messages: &[(String, String)],
        continuation: &str,
    ) -> Result<(Vec<u32>, Vec<u32>), TokenizerError> {
        let template = self.chat_template.as_deref().ok_or(TokenizerError::NoChatTemplate)?;
        self.encode_chat_continuation_with(template, messages, continuation)
    }

    /// [`encode_chat_continuation`](Self::encode_chat_continuation) with a given template.
    pub fn encode_chat_continuation_with(
        &self,
        template: &str,
        messages: &[(String, String)],
        continuation: &str,
    ) -> Result<(Vec<u32>, Vec<u32>), TokenizerError> {
        let mut segments = self.chat_segments(template, messages, true)?;
        let is_space = |c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c);
        let mut moved = String::new();
        while let Some((last, _)) = segments.last_mut() {
            let kept = last.trim_end_matches(is_space).len();
            moved.insert_str(0, &last[kept..]);
            last.truncate(kept);
            if last.is_empty() {
                segments.pop();
            } else {
                break;
            }
        }
        let moved = format!("{moved}{continuation}");
        let mut segs: Vec<(&str, bool)> = segments.iter().map(|(s, special)| (s.as_str(), *special)).collect();
        let context = self.chat_ids(&segs);
        segs.push((&moved, false));
        Ok((context, self.chat_ids(&segs)))
    }

    /// Ids of chat segments with BOS/EOS per the model's flags (no second BOS after a template
    /// that writes its own).
    fn chat_ids(&self, segs: &[(&str, bool)]) -> Vec<u32> {
        let mut ids = self.encode_segments(segs, false);
        if self.add_bos {
            if let Some(bos) = self.bos {
                if ids.first() != Some(&bos) {
                    ids.insert(0, bos);
                }
            }
        }
        if self.add_eos {
            ids.extend(self.eos);
        }
        ids
    }

    fn special_text(&self, id: Option<u32>) -> &str {
        id.and_then(|i| self.token_text(i)).unwrap_or("")
    }
}

/// The byte of a `<0xNN>` piece (`token_to_byte`: `strtol` of the two chars after `<0x`).
fn byte_of_piece(text: &str) -> u8 {
    let digits = text.as_bytes().get(3..5.min(text.len())).unwrap_or(&[]);
    let mut v: u32 = 0;
    for &d in digits {
        match (d as char).to_digit(16) {
            Some(x) => v = v * 16 + x,
            None => break,
        }
    }
    v as u8
}

/// llama.cpp's `clean_spaces` post-processing of detokenized text (`llama_vocab::impl::detokenize`),
/// done in place with the same index arithmetic so that its corner cases match.
fn clean_up_spaces(t: &mut Vec<u8>) {
    // First pass: " ?", " !", " .", " ," lose the space.
    let total1 = t.len();
    let mut total = usize::from(total1 > 0);
    for i in 1..total1 {
        let x = t[i];
        if t[i - 1] == b' ' && matches!(x, b'?' | b'!' | b'.' | b',') {
            total -= 1;
        }
        t[total] = x;
        total += 1;
    }
    // Second pass: a lone apostrophe between spaces loses both spaces.
    let total2 = total;
    total = usize::from(total2 > 0);
    let mut i = 1;
    while i < total2 {
        let x = t[i];
        if x == b'\'' && i + 1 < total2 && t[i - 1] == b' ' && t[i + 1] == b' ' {
            total -= 1;
            i += 1;
            t[i] = 0;
        }
        t[total] = x;
        total += 1;
        i += 1;
    }
    // Third pass: " 's", " 'm", " 're", " 've" lose the space.
    let total3 = total;
    total = usize::from(total3 > 0);
    for i in 1..total3 {
        let x = t[i];
        if t[i - 1] == b' ' && x == b'\'' && i + 1 < total3 {
            let x1 = t[i + 1];
            if x1 == b't' || x1 == b'd' {
            } else if x1 == b's' || x1 == b'm' {
                total -= 1;
            } else if i + 2 < total3 {
                let x2 = t[i + 2];
                if matches!((x1, x2), (b'r' | b'v', b'e')) {
                    total -= 1;
                }
            }
        }
        t[total] = x;
        total += 1;
    }
    t.truncate(total);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_up_spaces_matches_llama_cpp_passes() {
        let run = |s: &str| {
            let mut v = s.as_bytes().to_vec();
            clean_up_spaces(&mut v);
            String::from_utf8(v).unwrap()
        };
        assert_eq!(run("Hello , world !"), "Hello, world!");
        assert_eq!(run("it 's we 're I 'd they 'll"), "it's we're I 'd they 'll");
        assert_eq!(run("a ' b"), "a'b");
        assert_eq!(run(""), "");
        assert_eq!(run(" ."), ".");
    }

    #[test]
    fn byte_pieces_parse_like_strtol() {
        assert_eq!(byte_of_piece("<0x0A>"), 0x0A);
        assert_eq!(byte_of_piece("<0xFF>"), 0xFF);
        assert_eq!(byte_of_piece("<0xZ>"), 0);
    }
}
