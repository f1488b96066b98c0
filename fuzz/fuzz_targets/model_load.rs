//! Arbitrary bytes as a model file, down the whole load path in memory: the GGUF header, the
//! model's hyperparameters, the tokenizer, the chat template (a program from the file, run on a
//! conversation with a system turn), encoding text, and the CPU backend's weights and cache.
//! The same bytes are also read as a LoRA adapter for a fixed small base model (an adapter is a
//! file from a stranger too). Each step must return a value or an error: never panic, never
//! hang, never allocate beyond what the input could describe.
#![no_main]

use clinicbench::backend::cpu::CpuBackend;
use clinicbench::gguf::{Gguf, SliceSource};
use clinicbench::model::lora::Adapter;
use libfuzzer_sys::fuzz_target;

/// The base the bytes are tried against as an adapter: the smallest llama fixture.
static BASE: &[u8] = include_bytes!("../../tests/fixtures/families/llama_q4_k_m.gguf");

fuzz_target!(|data: &[u8]| {
    let Ok(g) = Gguf::open(SliceSource(data)) else { return };
    let config = clinicbench::model::ModelConfig::from_gguf(&g);
    if let Ok(tokenizer) = clinicbench::tokenizer::Tokenizer::from_gguf(&g) {
        let conversation = [
            ("system".to_string(), "You are a careful clinician.".to_string()),
            ("user".to_string(), "Dose of <b>aspirin</b>?".to_string()),
        ];
        let _ = tokenizer.apply_chat_template(&conversation, true);
        let _ = tokenizer.encode("A 67-year-old man with chest pain.", true, false);
    }
    if let Ok(c) = config {
        let _ = CpuBackend::load(&g, c.n_ctx_train.min(64));
    }
    // Only files that say they are adapters: loading the base costs milliseconds.
    let is_adapter = g.get("general.type").and_then(|v| v.as_str()) == Some("adapter");
    if let (true, Ok(base)) = (is_adapter, Gguf::open(SliceSource(BASE))) {
        let _ = CpuBackend::load_adapted(&base, 32, &[Adapter { gguf: &g, scale: 0.5 }]);
    }
});
