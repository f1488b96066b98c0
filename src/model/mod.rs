//! Decoder architectures: hyperparameters and per-family switches ([`ModelConfig`]) and the
//! weights a decoder has ([`DecoderWeights`]), and LoRA adapters' updates of them ([`lora`]). One decoder covers llama, mistral, smollm3,
//! granite, olmo2, qwen2, qwen3, gemma2, gemma3 and phi3; backends run its forward pass.

mod config;
mod weights;
pub mod card;
pub mod lora;

pub use config::{Activation, Family, ModelConfig, ModelError, RopeLayout, Yarn};
pub use weights::{DecoderWeights, GateUp, LayerWeights, Qkv};
