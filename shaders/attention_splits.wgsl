// How decode's split-KV attention divides the keys a query sees: splits of about SPLIT_KEYS
// keys, at most MAX_SPLITS (the host dispatches the same count: attention_splits in
// src/backend/wgpu/mod.rs).
const SPLIT_KEYS: u32 = 64u;
const MAX_SPLITS: u32 = 32u;

fn n_splits(visible: u32) -> u32 {
    return clamp((visible + SPLIT_KEYS - 1u) / SPLIT_KEYS, 1u, MAX_SPLITS);
}
