//! Arbitrary bytes as a model file, down the whole load path in memory: the GGUF header, the
//! model's hyperparameters, the tokenizer, the chat template (a program from the file, run on a
//! conversation with a system turn), encoding text, and the CPU backend's weights and cache.
//! Each step must return a value or an error: never panic, never hang, never allocate beyond
//! what the input could describe.
#![no_main]

use clinicbench::gguf::{Gguf, SliceSource};
use libfuzzer_sys::fuzz_target;

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
        let _ = clinicbench::backend::cpu::CpuBackend::load(&g, c.n_ctx_train.min(64));
    }
});
