//! ClinicBench Web: an evaluator of medical language models that runs on the user's own device.
//!
//! The crate is layered bottom-up, and dependencies only run downwards:
//!
//! - [`gguf`] parses llama.cpp's model container and reads tensors on demand;
//! - [`quant`] holds the block formats (dequantization and dot products);
//! - [`tokenizer`] rebuilds llama.cpp's tokenizers from GGUF metadata;
//! - [`model`] describes decoder architectures and runs their forward pass on a backend;
//! - [`backend`] executes the model's ops (the CPU reference here);
//! - [`engine`] turns requests (loglikelihood, generation) into forward passes behind the
//!   [`engine::Engine`] trait the task runner, the CLI and the page are written against;
//! - [`metrics`] scores plain predictions against references (accuracy, ROUGE, BLEU, entity and
//!   label F1), equal to the reference implementations, with standard errors and intervals;
//! - [`tasks`] reads ClinicBench's datasets, builds lm-eval-style prompts and scores documents
//!   through the engine;
//! - [`report`] holds a run's results, provenance and samples: the one typed report the CLI's
//!   files, the page's export and import, `compare` and `merge` read and write;
//! - [`review`] puts finished runs' outputs before clinicians, blinded, and computes their
//!   ratings' results and agreement.

pub mod backend;
pub mod calendar;
pub mod engine;
pub mod gguf;
pub mod metrics;
pub mod model;
pub mod quant;
pub mod report;
pub mod review;
pub mod rng;
pub mod tasks;
pub mod tokenizer;
pub mod web;
