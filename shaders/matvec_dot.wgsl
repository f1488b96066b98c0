// What the matrix-vector kernels share: a workgroup takes ROWS_PER_GROUP rows of one token, and
// `lane_dot` is one lane's share of a row, the row's 32-element chunks lane, lane + lanes, ...,
// dequantized inside the kernel. (A row of 640 columns has 20 chunks: sixteen lanes a row keep
// them busy where a workgroup per row left most of 64 idle.) A gated product takes the gate's
// and the up projection's row r together (`lane_dot_up`).
#include step
#include bytes
#include matmul_params

const WG: u32 = 64u;
const ROWS_PER_GROUP: u32 = 4u;

// The first row of workgroup `wg`; the grid spreads workgroups over x and y.
fn first_row(wg: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wg.x + wg.y * nwg.x) * ROWS_PER_GROUP;
}

fn lane_dot(r: u32, t: u32, lane: u32, lanes: u32) -> f32 {
    var acc = 0.0;
    let xrow = P.x_base + t * P.x_stride;
    let n_chunks = (P.cols + 31u) / 32u;
    for (var j = lane; j < n_chunks; j += lanes) {
        let w = row_chunk(r, j);
        let c0 = j * 32u;
        let n = min(32u, P.cols - c0);
        for (var l = 0u; l < n; l++) {
            acc += w[l] * X[xrow + c0 + l];
        }
    }
    return acc;
}

fn lane_dot_up(r: u32, t: u32, lane: u32, lanes: u32) -> f32 {
    var acc = 0.0;
    let xrow = P.x_base + t * P.x_stride;
    let n_chunks = (P.cols + 31u) / 32u;
    for (var j = lane; j < n_chunks; j += lanes) {
        let w = up_chunk(r, j);
        let c0 = j * 32u;
        let n = min(32u, P.cols - c0);
        for (var l = 0u; l < n; l++) {
            acc += w[l] * X[xrow + c0 + l];
        }
    }
    return acc;
}

// Stores row r of token t: the product, or act(gate) * up for a gated one.
fn write_row(r: u32, t: u32, v: f32, up: f32) {
    var out = v;
    if (P.gated != 0u) {
        out = gate_times_up(v, up);
    }
    store(P.y_base + t * P.y_stride + r, out);
}
