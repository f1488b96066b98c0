// One product y[t, y_base + r] = sum_c w[r, c] x[t, c] over a view of a weight: `rows` rows of
// `cols` elements starting at byte `w_base` of the bound buffer (fused matrices are several
// views of one buffer, large ones several buffers).
struct Matmul {
    rows: u32,
    cols: u32,
    row_bytes: u32,
    w_base: u32,
    x_base: u32,
    x_stride: u32,
    y_base: u32,
    y_stride: u32,
    // 0: the batch's n_tokens rows of x; 1: its n_logits rows (the output layer).
    count_sel: u32,
    // 1: y += W x, the residual add done as the product stores.
    accumulate: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> W: array<u32>;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<uniform> P: Matmul;
@group(0) @binding(4) var<uniform> S: Step;

fn token_count() -> u32 {
    return select(S.n_tokens, S.n_logits, P.count_sel == 1u);
}

fn store(i: u32, v: f32) {
    if (P.accumulate == 1u) {
        Y[i] += v;
    } else {
        Y[i] = v;
    }
}
