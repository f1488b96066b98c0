//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The real model (Gemma 3 270M Q4_K_M): `$CLINICBENCH_MODEL`, else the cache the README's
/// commands fill. Absent: `None` with a note, or a failure under `CI=true`, where the model
/// must be there.
pub fn real_model() -> Option<PathBuf> {
    let path = match std::env::var_os("CLINICBENCH_MODEL") {
        Some(p) => PathBuf::from(p),
        None => {
            let cache = std::env::var_os("CLINICBENCH_CACHE")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/clinicbench")))
                .unwrap_or_default();
            cache.join("gemma-3-270m-q4_k_m.gguf")
        }
    };
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but the real model is missing at {} (run scripts/fetch-model.sh)", path.display());
    }
    eprintln!("note: real model not found at {}; skipping (set CLINICBENCH_MODEL)", path.display());
    None
}

/// The wgpu backend on this machine's adapter (lavapipe in CI). No adapter: `None` with a
/// note, or a failure under `CI=true`, where Mesa's lavapipe is installed by the test script.
pub fn wgpu_backend<S: clinicbench::gguf::ByteSource>(
    g: &clinicbench::gguf::Gguf<S>,
    n_ctx: usize,
    options: &clinicbench::backend::wgpu::GpuOptions,
) -> Option<clinicbench::backend::wgpu::WgpuBackend> {
    use clinicbench::backend::BackendError;
    match clinicbench::backend::wgpu::WgpuBackend::load(g, n_ctx, options) {
        Ok(b) => Some(b),
        Err(BackendError::Gpu(e)) if e.contains("no GPU adapter") && !std::env::var("CI").is_ok_and(|v| v == "true") => {
            eprintln!("note: {e}; skipping the GPU check (install mesa-vulkan-drivers)");
            None
        }
        Err(e) => panic!("the wgpu backend cannot load the model: {e}"),
    }
}

/// Path of a committed fixture.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

/// A minimal GGUF writer for tests.
pub struct GgufWriter {
    pub version: u32,
    kvs: Vec<u8>,
    n_kv: u64,
    tensors: Vec<(String, Vec<u64>, u32, Vec<u8>)>,
    pub alignment: u64,
}

/// Appends a GGUF string (u64 length, bytes).
pub fn gguf_string(buf: &mut Vec<u8>, v: &str) {
    buf.extend((v.len() as u64).to_le_bytes());
    buf.extend(v.as_bytes());
}

impl GgufWriter {
    pub fn new(version: u32) -> Self {
        GgufWriter { version, kvs: vec![], n_kv: 0, tensors: vec![], alignment: 32 }
    }
    pub fn kv(&mut self, key: &str, ty: u32, value: &[u8]) -> &mut Self {
        gguf_string(&mut self.kvs, key);
        self.kvs.extend(ty.to_le_bytes());
        self.kvs.extend(value);
        self.n_kv += 1;
        self
    }
    pub fn tensor(&mut self, name: &str, dims: &[u64], ty: u32, data: Vec<u8>) -> &mut Self {
        self.tensors.push((name.into(), dims.to_vec(), ty, data));
        self
    }
    pub fn bytes(&self) -> Vec<u8> {
        let mut b = b"GGUF".to_vec();
        b.extend(self.version.to_le_bytes());
        b.extend((self.tensors.len() as u64).to_le_bytes());
        b.extend(self.n_kv.to_le_bytes());
        b.extend(&self.kvs);
        let mut offset = 0u64;
        let mut offsets = vec![];
        for (name, dims, ty, data) in &self.tensors {
            gguf_string(&mut b, name);
            b.extend((dims.len() as u32).to_le_bytes());
            for d in dims {
                b.extend(d.to_le_bytes());
            }
            b.extend(ty.to_le_bytes());
            b.extend(offset.to_le_bytes());
            offsets.push(offset);
            offset = (offset + data.len() as u64).div_ceil(self.alignment) * self.alignment;
        }
        while b.len() as u64 % self.alignment != 0 {
            b.push(0);
        }
        let start = b.len();
        for ((_, _, _, data), off) in self.tensors.iter().zip(offsets) {
            b.resize(start + off as usize, 0);
            b.extend(data);
        }
        b
    }
}


/// `model` (a GGUF file without a chat template, alignment 32) with `template` as its
/// `tokenizer.chat_template`: the key is written first among the metadata, padded with trailing
/// spaces to a multiple of the alignment, so the tensor data keeps its offsets.
pub fn with_chat_template(model: &[u8], template: &str) -> Vec<u8> {
    let mut kv = vec![];
    gguf_string(&mut kv, "tokenizer.chat_template");
    kv.extend(8u32.to_le_bytes()); // a string
    let fixed = kv.len() + 8 + template.len();
    let text = format!("{template}{}", " ".repeat(fixed.next_multiple_of(32) - fixed));
    gguf_string(&mut kv, &text);
    let n_kv = u64::from_le_bytes(model[16..24].try_into().unwrap());
    let mut out = model[..16].to_vec();
    out.extend((n_kv + 1).to_le_bytes());
    out.extend(kv);
    out.extend(&model[24..]);
    out
}

/// Runs the `clinicbench` binary with `args`, feeding `stdin`.
pub fn run_cli(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_clinicbench"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run clinicbench");
    // Bad usage exits before reading stdin: a broken pipe is expected then.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}
