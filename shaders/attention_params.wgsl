// The attention kernels' parameters (attention_tile.wgsl, attention_combine.wgsl), and which keys
// a query sees: query t at position p = p0 + t sees key j when j <= p and, with a window w,
// p - j < w.
struct Attention {
    head_dim: u32,
    head_dim_v: u32,
    n_head: u32,
    // Query heads per KV head.
    group: u32,
    scale: f32,
    softcap: f32,
    window: u32,
    n_ctx: u32,
    q_stride: u32,
    k_stride: u32,
    v_stride: u32,
    o_stride: u32,
}

// The first key the query at position `pos` sees.
fn first_key(pos: u32) -> u32 {
    if (P.window > 0u && pos + 1u > P.window) {
        return pos + 1u - P.window;
    }
    return 0u;
}
