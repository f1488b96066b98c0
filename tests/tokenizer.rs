//! Token ids against llama.cpp's, from fixtures made by `scripts/make_tokenizer_fixtures.py`
//! (llama-cpp-python 0.3.36).
//!
//! - `gemma3.json`: the real Gemma 3 270M vocabulary (needs the model file: env
//!   `CLINICBENCH_MODEL`, or `~/.cache/clinicbench/gemma-3-270m-q4_k_m.gguf`; skipped with a note
//!   when absent, a failure when `CI=true`).
//! - `spm_small.json`, `bpe_small.json`: small vocabularies shipped in the fixture; the tests write
//!   the same vocab-only GGUF that llama.cpp read, in memory, for every settings variant
//!   (`add_space_prefix`, `add_bos_token`, `tokenizer.ggml.pre`, ...).
//! - `chat.json`: chat templates rendered by jinja2.

use clinicbench::gguf::{FileSource, Gguf, SliceSource};
use clinicbench::tokenizer::Tokenizer;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Reads a fixture; `TOKENIZER_FIXTURE_DIR` points at another folder of fixtures in the same
/// format (e.g. `make_tokenizer_fixtures.py fixtures --fuzz 2000 --out DIR` for a differential
/// check on random text), falling back to the committed ones for files it lacks.
fn fixture(name: &str) -> Value {
    let committed = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tokenizer")
        .join(name);
    let path = match std::env::var_os("TOKENIZER_FIXTURE_DIR").map(|d| PathBuf::from(d).join(name)) {
        Some(p) if p.exists() => p,
        _ => committed,
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("id list")
        .iter()
        .map(|x| x.as_u64().expect("id") as u32)
        .collect()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

// ------------------------------------------------------------------------------------------------
// The real model
// ------------------------------------------------------------------------------------------------

fn model_path() -> Option<PathBuf> {
    let path = match std::env::var_os("CLINICBENCH_MODEL") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/clinicbench/gemma-3-270m-q4_k_m.gguf"),
    };
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but the model file {} is missing", path.display());
    }
    eprintln!(
        "note: skipping: model file {} not found (set CLINICBENCH_MODEL)",
        path.display()
    );
    None
}

fn gemma() -> Option<Tokenizer> {
    let path = model_path()?;
    let g = Gguf::open(FileSource::open(&path).expect("open model")).expect("parse GGUF");
    Some(Tokenizer::from_gguf(&g).expect("tokenizer"))
}

/// Compares every encode case; reports all mismatches at once.
fn check_encode(tok: &Tokenizer, cases: &[(String, bool, bool, Vec<u32>)], label: &str) -> usize {
    let mut failures = Vec::new();
    for (text, add_special, parse_special, want) in cases {
        let got = tok.encode(text, *add_special, *parse_special);
        if &got != want {
            failures.push(format!(
                "  {label}: text={text:?} add_special={add_special} parse_special={parse_special}\n    want {want:?}\n    got  {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} encode cases differ from llama.cpp:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    cases.len()
}

fn check_decode(tok: &Tokenizer, cases: &[Value], label: &str) {
    let mut failures = Vec::new();
    for c in cases {
        let list = ids(&c["ids"]);
        let want = hex(c["bytes_hex"].as_str().expect("hex"));
        let got = tok.decode_bytes(&list);
        if got != want {
            failures.push(format!(
                "  {label}: ids={list:?}\n    want {:?}\n    got  {:?}",
                String::from_utf8_lossy(&want),
                String::from_utf8_lossy(&got)
            ));
        } else {
            assert_eq!(tok.decode(&list), String::from_utf8_lossy(&want));
        }
    }
    assert!(
        failures.is_empty(),
        "{} decode cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn check_pieces(tok: &Tokenizer, cases: &[Value], label: &str) {
    let mut failures = Vec::new();
    for c in cases {
        let id = c["id"].as_u64().expect("id") as u32;
        let want = hex(c["bytes_hex"].as_str().expect("hex"));
        let got = tok.token_bytes(id);
        if *got != *want {
            failures.push(format!(
                "  {label}: id {id} ({:?}): want {want:?} got {:?}",
                tok.token_text(id),
                &*got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} pieces differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn check_specials(tok: &Tokenizer, f: &Value) {
    let bos = f["bos"].as_i64().expect("bos");
    let eos = f["eos"].as_i64().expect("eos");
    assert_eq!(tok.bos().map(i64::from).unwrap_or(-1), bos, "BOS");
    assert_eq!(tok.eos().map(i64::from).unwrap_or(-1), eos, "EOS");
    let want_eog = ids(&f["eog"]);
    let got_eog: Vec<u32> = tok.eog_tokens().collect();
    assert_eq!(got_eog, want_eog, "end-of-generation tokens");
    for &id in &want_eog {
        assert!(tok.is_eog(id));
    }
}

#[test]
fn gemma3_ids_equal_llama_cpp() {
    let Some(tok) = gemma() else { return };
    let f = fixture("gemma3.json");
    assert_eq!(tok.kind(), "spm");
    assert_eq!(tok.vocab_size() as u64, f["n_vocab"].as_u64().unwrap());
    assert!(tok.add_bos());
    assert!(!tok.add_space_prefix());
    check_specials(&tok, &f);
    let cases: Vec<(String, bool, bool, Vec<u32>)> = f["encode"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["text"].as_str().unwrap().to_string(),
                c["add_special"].as_bool().unwrap(),
                c["parse_special"].as_bool().unwrap(),
                ids(&c["ids"]),
            )
        })
        .collect();
    let n = check_encode(&tok, &cases, "gemma3");
    assert!(n >= 300, "only {n} cases");
    check_decode(&tok, f["decode"].as_array().unwrap(), "gemma3");
    check_pieces(&tok, f["pieces"].as_array().unwrap(), "gemma3");
}

#[test]
fn gemma3_special_token_conventions() {
    let Some(tok) = gemma() else { return };
    let sot = tok.token_id("<start_of_turn>").unwrap();
    let eot = tok.token_id("<end_of_turn>").unwrap();
    assert_eq!(tok.bos(), Some(2));
    assert_eq!(tok.eos(), Some(1));
    assert_eq!(tok.token_text(2), Some("<bos>"));
    assert!(tok.is_eog(eot) && tok.is_eog(1) && !tok.is_eog(sot));
    // A control token's text in plain text stays text unless parse_special.
    assert_eq!(tok.encode("<start_of_turn>", false, true), vec![sot]);
    assert!(!tok.encode("<start_of_turn>", false, false).contains(&sot));
    // USER_DEFINED tokens ("\n", HTML tags) are matched even without parse_special.
    let nl = tok.token_id("\n").unwrap();
    assert_eq!(tok.encode("\n", false, false), vec![nl]);
    assert!(tok.token_bytes(sot).is_empty(), "control tokens print nothing");
    assert_eq!(tok.decode(&tok.encode("Hello world", true, false)), "Hello world");
    assert!(tok.chat_template().is_none(), "this GGUF has no chat template");
}

#[test]
fn gemma3_loads_fast_and_encodes_a_note_fast() {
    let Some(path) = model_path() else { return };
    let g = Gguf::open(FileSource::open(&path).unwrap()).unwrap();
    let t0 = Instant::now();
    let tok = Tokenizer::from_gguf(&g).unwrap();
    let load = t0.elapsed();
    let note: String = fixture("gemma3.json")["encode"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].as_str().unwrap())
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(2000)
        .collect();
    let t1 = Instant::now();
    let n = tok.encode(&note, true, false).len();
    let enc = t1.elapsed();
    eprintln!(
        "gemma3 tokenizer: load {load:?} ({} tokens), encode 2000 chars -> {n} tokens in {enc:?}",
        tok.vocab_size()
    );
    // Generous bounds: they catch accidental quadratic work, not regressions of a few percent.
    assert!(load < Duration::from_secs(10), "load took {load:?}");
    assert!(enc < Duration::from_secs(2), "encode took {enc:?}");
}

// ------------------------------------------------------------------------------------------------
// Small vocabularies, GGUF written in memory
// ------------------------------------------------------------------------------------------------

/// GGUF metadata values the fixtures need.
enum Meta {
    Str(String),
    Bool(bool),
    U32(u32),
    Strs(Vec<String>),
    F32s(Vec<f32>),
    I32s(Vec<i32>),
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// A vocab-only GGUF v3 file with `general.architecture = llama` and the given keys.
fn gguf_bytes(kvs: &[(&str, Meta)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"GGUF");
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&((kvs.len() + 1) as u64).to_le_bytes());
    put_str(&mut out, "general.architecture");
    out.extend_from_slice(&8u32.to_le_bytes());
    put_str(&mut out, "llama");
    for (key, v) in kvs {
        put_str(&mut out, key);
        match v {
            Meta::Str(s) => {
                out.extend_from_slice(&8u32.to_le_bytes());
                put_str(&mut out, s);
            }
            Meta::Bool(b) => {
                out.extend_from_slice(&7u32.to_le_bytes());
                out.push(*b as u8);
            }
            Meta::U32(x) => {
                out.extend_from_slice(&4u32.to_le_bytes());
                out.extend_from_slice(&x.to_le_bytes());
            }
            Meta::Strs(items) => {
                out.extend_from_slice(&9u32.to_le_bytes());
                out.extend_from_slice(&8u32.to_le_bytes());
                out.extend_from_slice(&(items.len() as u64).to_le_bytes());
                for s in items {
                    put_str(&mut out, s);
                }
            }
            Meta::F32s(items) => {
                out.extend_from_slice(&9u32.to_le_bytes());
                out.extend_from_slice(&6u32.to_le_bytes());
                out.extend_from_slice(&(items.len() as u64).to_le_bytes());
                for x in items {
                    out.extend_from_slice(&x.to_le_bytes());
                }
            }
            Meta::I32s(items) => {
                out.extend_from_slice(&9u32.to_le_bytes());
                out.extend_from_slice(&5u32.to_le_bytes());
                out.extend_from_slice(&(items.len() as u64).to_le_bytes());
                for x in items {
                    out.extend_from_slice(&x.to_le_bytes());
                }
            }
        }
    }
    while out.len() % 32 != 0 {
        out.push(0);
    }
    out
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// The tokenizer of one fixture variant: the shared vocabulary plus the variant's settings,
/// in the key order the fixture script used.
fn small_tokenizer(vocab: &Value, meta: &Value) -> Tokenizer {
    let mut kvs: Vec<(&str, Meta)> = Vec::new();
    kvs.push((
        "tokenizer.ggml.model",
        Meta::Str(meta["model"].as_str().unwrap().into()),
    ));
    if let Some(pre) = meta.get("pre").and_then(|p| p.as_str()) {
        kvs.push(("tokenizer.ggml.pre", Meta::Str(pre.into())));
    }
    kvs.push(("tokenizer.ggml.tokens", Meta::Strs(strings(&vocab["tokens"]))));
    if let Some(scores) = vocab.get("scores") {
        kvs.push((
            "tokenizer.ggml.scores",
            Meta::F32s(
                scores
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
                    .collect(),
            ),
        ));
    }
    kvs.push((
        "tokenizer.ggml.token_type",
        Meta::I32s(
            vocab["token_types"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_i64().unwrap() as i32)
                .collect(),
        ),
    ));
    if let Some(merges) = vocab.get("merges") {
        kvs.push(("tokenizer.ggml.merges", Meta::Strs(strings(merges))));
    }
    for (key, full) in [
        ("bos_token_id", "tokenizer.ggml.bos_token_id"),
        ("eos_token_id", "tokenizer.ggml.eos_token_id"),
        ("unknown_token_id", "tokenizer.ggml.unknown_token_id"),
        ("padding_token_id", "tokenizer.ggml.padding_token_id"),
    ] {
        if let Some(x) = meta.get(key).and_then(|x| x.as_u64()) {
            kvs.push((full, Meta::U32(x as u32)));
        }
    }
    for (key, full) in [
        ("add_bos_token", "tokenizer.ggml.add_bos_token"),
        ("add_eos_token", "tokenizer.ggml.add_eos_token"),
        ("add_space_prefix", "tokenizer.ggml.add_space_prefix"),
    ] {
        if let Some(b) = meta.get(key).and_then(|x| x.as_bool()) {
            kvs.push((full, Meta::Bool(b)));
        }
    }
    let bytes = gguf_bytes(&kvs);
    let g = Gguf::open(SliceSource(bytes)).expect("in-memory GGUF");
    Tokenizer::from_gguf(&g).expect("tokenizer from in-memory GGUF")
}

fn run_small_fixture(name: &str) -> usize {
    let f = fixture(name);
    let texts = strings(&f["texts"]);
    let mut total = 0;
    for variant in f["variants"].as_array().unwrap() {
        let meta = &variant["meta"];
        let label = format!("{name} {}", serde_json::to_string(meta).unwrap());
        let tok = small_tokenizer(&f["vocab"], meta);
        check_specials(&tok, variant);
        let cases: Vec<(String, bool, bool, Vec<u32>)> = variant["encode"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    texts[c["t"].as_u64().unwrap() as usize].clone(),
                    c["a"].as_bool().unwrap(),
                    c["p"].as_bool().unwrap(),
                    ids(&c["ids"]),
                )
            })
            .collect();
        total += check_encode(&tok, &cases, &label);
        check_decode(&tok, variant["decode"].as_array().unwrap(), &label);
        check_pieces(&tok, variant["pieces"].as_array().unwrap(), &label);
    }
    total
}

#[test]
fn spm_small_vocab_ids_equal_llama_cpp() {
    let n = run_small_fixture("spm_small.json");
    eprintln!("spm_small: {n} encode cases");
    assert!(n > 300);
}

#[test]
fn bpe_small_vocab_ids_equal_llama_cpp_for_each_pre_tokenizer() {
    let n = run_small_fixture("bpe_small.json");
    eprintln!("bpe_small: {n} encode cases");
    assert!(n > 1500);
}

fn bpe_tokenizer(pre: &str) -> Tokenizer {
    let f = fixture("bpe_small.json");
    let tokens = strings(&f["vocab"]["tokens"]);
    let bos = tokens.iter().position(|t| t == "<|begin_of_text|>").unwrap();
    let meta = serde_json::json!({"model": "gpt2", "pre": pre, "bos_token_id": bos, "eos_token_id": bos + 1});
    small_tokenizer(&f["vocab"], &meta)
}

fn spm_tokenizer() -> Tokenizer {
    let f = fixture("spm_small.json");
    let meta = serde_json::json!({"model": "llama", "bos_token_id": 2, "eos_token_id": 1, "unknown_token_id": 3});
    small_tokenizer(&f["vocab"], &meta)
}

#[test]
fn bpe_conventions() {
    let tok = bpe_tokenizer("llama-bpe");
    assert_eq!(tok.kind(), "bpe");
    assert_eq!(tok.pre_tokenizer(), Some("llama-bpe"));
    assert!(tok.add_bos(), "llama3 pre-tokenizers add BOS by default");
    let im_end = tok.token_id("<|im_end|>").unwrap();
    assert!(tok.is_control(im_end), "<|im_end|> is promoted to CONTROL by its text");
    assert!(tok.is_eog(im_end));
    assert_eq!(tok.encode("<|im_end|>", false, true), vec![im_end]);
    assert_ne!(tok.encode("<|im_end|>", false, false), vec![im_end]);
    let money = tok.token_id("<<money>>").unwrap();
    assert_eq!(
        tok.encode("a<<money>>b", false, false)[1],
        money,
        "USER_DEFINED tokens match without parse_special"
    );
    assert_eq!(
        tok.decode(&tok.encode("Hello world, it's me.", false, false)),
        "Hello world, it's me."
    );
    let qwen = bpe_tokenizer("qwen2");
    assert!(!qwen.add_bos());
}

#[test]
fn unknown_pre_tokenizer_is_an_error_naming_it() {
    let bytes = gguf_bytes(&[
        ("tokenizer.ggml.model", Meta::Str("gpt2".into())),
        ("tokenizer.ggml.pre", Meta::Str("no-such-pre".into())),
        ("tokenizer.ggml.tokens", Meta::Strs(vec!["a".into(), "b".into()])),
        ("tokenizer.ggml.merges", Meta::Strs(vec!["a b".into()])),
    ]);
    let g = Gguf::open(SliceSource(bytes)).unwrap();
    let e = Tokenizer::from_gguf(&g).unwrap_err().to_string();
    assert!(e.contains("no-such-pre"), "{e}");
    let bytes = gguf_bytes(&[
        ("tokenizer.ggml.model", Meta::Str("gpt2".into())),
        ("tokenizer.ggml.tokens", Meta::Strs(vec!["a".into()])),
    ]);
    let g = Gguf::open(SliceSource(bytes)).unwrap();
    let e = Tokenizer::from_gguf(&g).unwrap_err().to_string();
    assert!(e.contains("tokenizer.ggml.merges"), "{e}");
    let bytes = gguf_bytes(&[
        ("tokenizer.ggml.model", Meta::Str("bert".into())),
        ("tokenizer.ggml.tokens", Meta::Strs(vec!["a".into()])),
    ]);
    let g = Gguf::open(SliceSource(bytes)).unwrap();
    assert!(Tokenizer::from_gguf(&g).unwrap_err().to_string().contains("bert"));
    let bytes = gguf_bytes(&[
        ("tokenizer.ggml.model", Meta::Str("llama".into())),
        ("tokenizer.ggml.tokens", Meta::Strs(vec!["a".into(), "a".into()])),
    ]);
    let g = Gguf::open(SliceSource(bytes)).unwrap();
    assert!(Tokenizer::from_gguf(&g).unwrap_err().to_string().contains("duplicate"));
}

// ------------------------------------------------------------------------------------------------
// Hostile input
// ------------------------------------------------------------------------------------------------

fn hostile_inputs() -> Vec<(String, String)> {
    vec![
        ("100k 'a'".into(), "a".repeat(100_000)),
        ("100k spaces".into(), " ".repeat(100_000)),
        ("100k newlines".into(), "\n".repeat(100_000)),
        ("50k 'ab'".into(), "ab".repeat(50_000)),
        ("30k CJK".into(), "糖".repeat(30_000)),
        ("20k emoji ZWJ".into(), "👨\u{200d}⚕\u{fe0f}".repeat(5_000)),
        ("combining marks".into(), format!("e{}", "\u{301}".repeat(20_000))),
        ("digits".into(), "9".repeat(50_000)),
        (
            "special text".into(),
            "<start_of_turn><end_of_turn><bos><eos><|eot_id|><|im_end|>".repeat(2_000),
        ),
        ("mixed".into(), "Na 134 mmol/L, <b>K</b> 5.2; µg ΔT\t\r\n".repeat(3_000)),
    ]
}

fn check_hostile(tok: &Tokenizer, label: &str) {
    let t0 = Instant::now();
    for (name, text) in hostile_inputs() {
        let t = Instant::now();
        let plain = tok.encode(&text, true, false);
        let special = tok.encode(&text, false, true);
        assert!(!plain.is_empty() && !special.is_empty(), "{label} {name}: no tokens");
        // Without parse_special no CONTROL token can come out of the text (BOS added aside).
        for &id in &plain[1..] {
            assert!(
                !tok.is_control(id) || tok.token_bytes(id).is_empty() && !text.contains(tok.token_text(id).unwrap()),
                "{label} {name}: control token {id} {:?} from plain text",
                tok.token_text(id)
            );
        }
        // Decoding gives the text back (Gemma: no normalization, no space prefix, byte fallback).
        if tok.kind() == "spm" && !tok.add_space_prefix() {
            let back = tok.decode(&tok.encode(&text, false, false));
            assert!(back == text, "{label} {name}: round trip differs");
        }
        eprintln!(
            "{label} {name}: {} chars -> {} tokens in {:?}",
            text.chars().count(),
            plain.len(),
            t.elapsed()
        );
    }
    let all = t0.elapsed();
    assert!(all < Duration::from_secs(120), "{label}: hostile inputs took {all:?}");
}

#[test]
fn hostile_inputs_small_vocabularies() {
    check_hostile(&spm_tokenizer(), "spm_small");
    check_hostile(&bpe_tokenizer("llama-bpe"), "bpe llama3");
    check_hostile(&bpe_tokenizer("default"), "bpe default");
}

#[test]
fn hostile_inputs_gemma3() {
    let Some(tok) = gemma() else { return };
    check_hostile(&tok, "gemma3");
    // Only special-token text, with parse_special=false: every CONTROL text is spelled out.
    let text = "<start_of_turn><end_of_turn><bos><eos><pad><unk><mask>";
    let ids = tok.encode(text, false, false);
    assert!(ids.iter().all(|&id| !tok.is_control(id)), "{ids:?}");
    assert_eq!(tok.decode(&ids), text);
    assert_eq!(tok.encode(text, false, true), vec![105, 106, 2, 1, 0, 3, 4]);
    // Out-of-range ids decode to nothing rather than panicking.
    assert!(tok.token_bytes(u32::MAX).is_empty());
    assert_eq!(tok.decode(&[u32::MAX, 9_999_999]), "");
}

// ------------------------------------------------------------------------------------------------
// Chat templates
// ------------------------------------------------------------------------------------------------

#[test]
fn chat_templates_render_like_jinja2() {
    let f = fixture("chat.json");
    let tok = spm_tokenizer();
    // The fixture's strftime_now reads a fixed clock; ours reads today's (in each format the
    // templates ask for).
    let dates: Vec<(String, String)> = f["fixture_dates"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(format, fixed)| {
            let today = tok.apply_chat_template_with(&format!("{{{{ strftime_now('{format}') }}}}"), &[], false).unwrap();
            (fixed.as_str().unwrap().to_string(), today)
        })
        .collect();
    let with_today = |s: String| dates.iter().fold(s, |s, (fixed, today)| s.replace(fixed.as_str(), today));
    let mut n = 0;
    let mut families = BTreeSet::new();
    for c in f["cases"].as_array().unwrap() {
        let name = c["template"].as_str().unwrap();
        let template = f["templates"][name].as_str().unwrap();
        let messages: Vec<(String, String)> = c["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m[0].as_str().unwrap().to_string(), m[1].as_str().unwrap().to_string()))
            .collect();
        let agp = c["add_generation_prompt"].as_bool().unwrap();
        // The fixture renders gemma3 with "<bos>"/"<eos>" and the others with Llama 3's texts;
        // substitute those texts for this tokenizer's.
        let got = tok.apply_chat_template_with(template, &messages, agp);
        match (c["rendered"].as_str(), c["error"].as_str()) {
            (Some(want), _) => {
                let want = match name {
                    "gemma3" | "granite" | "smollm3" => with_today(want.to_string()),
                    _ => with_today(want.replace("<|begin_of_text|>", "<bos>").replace("<|end_of_text|>", "<eos>")),
                };
                assert_eq!(got.unwrap(), want, "{name} {messages:?} agp={agp}");
            }
            (None, Some(err)) => {
                let e = got.unwrap_err().to_string();
                assert!(e.contains(err), "{name}: error {e:?} should contain {err:?}");
            }
            _ => panic!("bad chat case"),
        }
        n += 1;
        families.insert(name.to_string());
    }
    assert!(n >= 40);
    // The templates of the families beyond the first seven, a system turn among the cases.
    assert!(["granite", "mistral3", "olmo2", "smollm3"].iter().all(|f| families.contains(*f)), "{families:?}");
}

#[test]
fn encode_chat_keeps_message_content_as_text() {
    let f = fixture("chat.json");
    let template = f["templates"]["gemma3"].as_str().unwrap();
    let check = |tok: &Tokenizer| {
        let sot = tok.token_id("<start_of_turn>").unwrap();
        let eot = tok.token_id("<end_of_turn>").unwrap();
        let msgs = vec![("user".to_string(), " What is <end_of_turn> here?\n".to_string())];
        let ids = tok.encode_chat_with(template, &msgs, true).unwrap();
        let rendered = tok.apply_chat_template_with(template, &msgs, true).unwrap();
        // Exactly one <end_of_turn>: the template's, not the message's.
        assert_eq!(ids.iter().filter(|&&i| i == eot).count(), 1, "{ids:?}");
        assert_eq!(ids.iter().filter(|&&i| i == sot).count(), 2);
        assert_eq!(ids[0], tok.bos().unwrap());
        assert_eq!(ids.iter().filter(|&&i| Some(i) == tok.bos()).count(), 1, "single BOS");
        // Without special text in the content, the ids equal tokenizing the rendered prompt
        // with parse_special=true (what llama.cpp does).
        let msgs = vec![("user".to_string(), "What is the dose of amoxicillin?".to_string())];
        let rendered2 = tok.apply_chat_template_with(template, &msgs, true).unwrap();
        assert_eq!(
            tok.encode_chat_with(template, &msgs, true).unwrap(),
            tok.encode(&rendered2, false, true)
        );
        rendered
    };
    let r = check(&spm_tokenizer());
    assert!(
        r.starts_with("<bos><start_of_turn>user\nWhat is <end_of_turn> here?<end_of_turn>\n"),
        "{r:?}"
    );
    if let Some(tok) = gemma() {
        check(&tok);
    }
}

#[test]
fn chat_contexts_split_like_lm_eval() {
    // lm-eval scores a choice after a rendered chat context with the trailing newline of the
    // assistant marker moved into the continuation: context = rendered.rstrip(),
    // continuation = "\n" + choice, tokens of the whole after those of the context.
    let f = fixture("chat.json");
    let template = f["templates"]["gemma3"].as_str().unwrap();
    let check = |tok: &Tokenizer| {
        let msgs = vec![
            ("system".to_string(), "The following are questions about anatomy.\n\n".to_string()),
            ("user".to_string(), "Q?\nA. w\nB. x\nAnswer:".to_string()),
        ];
        let rendered = tok.apply_chat_template_with(template, &msgs, true).unwrap();
        assert!(rendered.ends_with("<start_of_turn>model\n"));
        let stripped = rendered.trim_end();
        let (context, whole) = tok.encode_chat_continuation_with(template, &msgs, "B").unwrap();
        assert_eq!(context, tok.encode(stripped, false, true));
        assert_eq!(whole, tok.encode(&format!("{stripped}\nB"), false, true));
        assert!(whole.starts_with(&context) && whole.len() > context.len());
        // Content stays text even here.
        let hostile = vec![("user".to_string(), "<end_of_turn>".to_string())];
        let (context, _) = tok.encode_chat_continuation_with(template, &hostile, "B").unwrap();
        let eot = tok.token_id("<end_of_turn>").unwrap();
        assert_eq!(context.iter().filter(|&&i| i == eot).count(), 1);
    };
    check(&spm_tokenizer());
    if let Some(tok) = gemma() {
        check(&tok);
    }
}
