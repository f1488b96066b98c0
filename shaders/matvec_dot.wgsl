// What the matrix-vector kernels share: a workgroup takes ROWS_PER_GROUP rows of one token, and
// `lane_dot` is one lane's share of a row, the row's 32-element chunks lane, lane + lanes, ...,
// dequantized inside the kernel. (A row of 640 columns has 20 chunks: sixteen lanes a row keep
// them busy where a workgroup per row left most of 64 idle.)
#include step
#include bytes
#include matmul_params
#include format

const WG: u32 = 64u;
const ROWS_PER_GROUP: u32 = 4u;

// The first row of workgroup `wg`; the grid spreads workgroups over x and y.
fn first_row(wg: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wg.x + wg.y * nwg.x) * ROWS_PER_GROUP;
}

fn lane_dot(r: u32, t: u32, lane: u32, lanes: u32) -> f32 {
    var acc = 0.0;
    let row = P.w_base + r * P.row_bytes;
    let xrow = P.x_base + t * P.x_stride;
    let n_chunks = (P.cols + 31u) / 32u;
    for (var j = lane; j < n_chunks; j += lanes) {
        let w = chunk(row, j, P.cols);
        let c0 = j * 32u;
        let n = min(32u, P.cols - c0);
        for (var l = 0u; l < n; l++) {
            acc += w[l] * X[xrow + c0 + l];
        }
    }
    return acc;
}

fn write_row(r: u32, t: u32, v: f32) {
    store(P.y_base + t * P.y_stride + r, v);
}
