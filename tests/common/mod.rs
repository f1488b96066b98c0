//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

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

/// Path of a committed fixture.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}
