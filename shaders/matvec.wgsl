// Matrix-vector product for decode: a workgroup takes four rows of one token, sixteen threads a
// row; the threads of a row take its 32-element chunks in turn, dequantizing inside the kernel,
// and reduce in shared memory. (A row of 640 columns has 20 chunks: sixteen threads keep them
// busy where a workgroup per row left most of 64 idle.)
#include step
#include bytes
#include matmul_params
#include format

const WG: u32 = 64u;
const LANES: u32 = 16u;
const ROWS_PER_GROUP: u32 = 4u;
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
    let t = wg.z;
    if (t >= token_count()) {
        return;
    }
    let lane = tid % LANES;
    let r = (wg.x + wg.y * nwg.x) * ROWS_PER_GROUP + tid / LANES;
    var acc = 0.0;
    if (r < P.rows) {
        let row = P.w_base + r * P.row_bytes;
        let xrow = P.x_base + t * P.x_stride;
        let n_chunks = (P.cols + 31u) / 32u;
        for (var j = lane; j < n_chunks; j += LANES) {
            let w = chunk(row, j, P.cols);
            let c0 = j * 32u;
            let n = min(32u, P.cols - c0);
            for (var l = 0u; l < n; l++) {
                acc += w[l] * X[xrow + c0 + l];
            }
        }
    }
    partial[tid] = acc;
    workgroupBarrier();
    for (var s = LANES / 2u; s > 0u; s >>= 1u) {
        if (lane < s) {
            partial[tid] += partial[tid + s];
        }
        workgroupBarrier();
    }
    if (lane == 0u && r < P.rows) {
        Y[P.y_base + t * P.y_stride + r] = partial[tid];
    }
}
