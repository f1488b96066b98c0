//! Arbitrary bytes as a GGUF file: the reader must return a value or an error, never panic,
//! and never allocate more than the input could describe. Valid headers go on to the model
//! config and tokenizer, which read the same metadata.
#![no_main]

use clinicbench::gguf::{Gguf, SliceSource};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(g) = Gguf::open(SliceSource(data)) {
        let _ = clinicbench::model::ModelConfig::from_gguf(&g);
        let _ = clinicbench::tokenizer::Tokenizer::from_gguf(&g);
        for t in &g.tensors {
            let _ = g.read_tensor(t);
        }
    }
});
