//! Arbitrary text through the real model's tokenizer (set CLINICBENCH_MODEL, or the default
//! cache path): encoding with and without special-token parsing and decoding back must never
//! panic, and decoding never yields more than the ids' bytes.
#![no_main]

use clinicbench::gguf::{FileSource, Gguf};
use clinicbench::tokenizer::Tokenizer;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn tokenizer() -> &'static Tokenizer {
    static TOK: OnceLock<Tokenizer> = OnceLock::new();
    TOK.get_or_init(|| {
        let path = std::env::var("CLINICBENCH_MODEL").unwrap_or_else(|_| {
            format!("{}/.cache/clinicbench/gemma-3-270m-q4_k_m.gguf", std::env::var("HOME").unwrap_or_default())
        });
        let g = Gguf::open(FileSource::open(&path).expect("the fuzz target needs the model file")).expect("model");
        Tokenizer::from_gguf(&g).expect("tokenizer")
    })
}

fuzz_target!(|data: &[u8]| {
    let tok = tokenizer();
    let text = String::from_utf8_lossy(data);
    for (add, parse) in [(true, false), (false, true)] {
        let ids = tok.encode(&text, add, parse);
        let back = tok.decode(&ids);
        assert!(back.len() <= 4 * (text.len() + 64), "decode grew: {} -> {}", text.len(), back.len());
    }
    // Arbitrary ids, in range or not, decode without panicking.
    let ids: Vec<u32> = data.chunks(4).map(|c| c.iter().fold(0u32, |a, &b| a << 8 | b as u32)).collect();
    let _ = tok.decode(&ids);
});
