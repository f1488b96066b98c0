// The logits reduction's shape: rows of n_vocab logits in n_chunks chunks of `chunk`.
struct Score {
    n_vocab: u32,
    chunk: u32,
    n_chunks: u32,
    _pad0: u32,
}
