// One product y[t, y_base + r] = sum_c w[r, c] x[t, c] over a view of a weight: `rows` rows of
// `cols` elements. The bound buffer may hold the rows in two block formats (a projection fused
// at load whose value rows are stored in another format than its query and key rows): rows
// below `rows_a` are `chunk`'s format from byte `w_base`, the rest `chunk_b`'s from `w_base_b`.
// With `gated`, the product is a gated feed-forward's: row r of the first block (gate) and row r
// of the second (up), stored as act(gate) * up, so neither half goes through memory.
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
    rows_a: u32,
    row_bytes_b: u32,
    w_base_b: u32,
    // 0: a plain product; 1: SiLU(gate) * up; 2: GELU(gate) * up.
    gated: u32,
    // What each result is multiplied by as it is stored (Granite's residual and logit
    // multipliers; 1 elsewhere, which leaves every value as it was).
    scale: f32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> W: array<u32>;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<uniform> P: Matmul;
@group(0) @binding(4) var<uniform> S: Step;

#include format
#include format_b
#include activation

fn token_count() -> u32 {
    return select(S.n_tokens, S.n_logits, P.count_sel == 1u);
}

// Chunk j of row r of the product (the gate's row when gated).
fn row_chunk(r: u32, j: u32) -> array<f32, 32> {
    if (r < P.rows_a) {
        return chunk(P.w_base + r * P.row_bytes, j, P.cols);
    }
    return chunk_b(P.w_base_b + (r - P.rows_a) * P.row_bytes_b, j, P.cols);
}

// Chunk j of the up projection's row r (gated products only).
fn up_chunk(r: u32, j: u32) -> array<f32, 32> {
    return chunk_b(P.w_base_b + r * P.row_bytes_b, j, P.cols);
}

// What a gated product stores: the activated gate times up.
fn gate_times_up(gate: f32, up: f32) -> f32 {
    if (P.gated == 2u) {
        return gelu(gate) * up;
    }
    return silu(gate) * up;
}

fn store(i: u32, v: f32) {
    if (P.accumulate == 1u) {
        Y[i] += P.scale * v;
    } else {
        Y[i] = P.scale * v;
    }
}
