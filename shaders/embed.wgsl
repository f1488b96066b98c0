// Embedding lookup from quantized rows: x[t] = dequantize(token_embd[id_t]) * scale. A large
// table is split over several buffers; each dispatch serves the ids its part holds.
#include step
#include bytes

struct Embed {
    // Rows held by this part and the first of them.
    rows: u32,
    first_row: u32,
    cols: u32,
    row_bytes: u32,
    scale: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> W: array<u32>;
@group(0) @binding(1) var<storage, read> T: array<u32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<uniform> P: Embed;
@group(0) @binding(4) var<uniform> S: Step;

#include format

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n_chunks = (P.cols + 31u) / 32u;
    let t = gid.x / n_chunks;
    let j = gid.x % n_chunks;
    if (t >= S.n_tokens) {
        return;
    }
    let id = T[t];
    if (id < P.first_row || id >= P.first_row + P.rows) {
        return;
    }
    let w = chunk((id - P.first_row) * P.row_bytes, j, P.cols);
    for (var l = 0u; l < 32u; l++) {
        let c = j * 32u + l;
        if (c < P.cols) {
            Y[t * P.cols + c] = w[l] * P.scale;
        }
    }
}
