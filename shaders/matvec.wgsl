// Matrix-vector product for decode: one workgroup per (row, token); its threads take the row's
// 32-element chunks in turn, dequantizing inside the kernel, and reduce in shared memory.
#include step
#include bytes
#include matmul_params
#include format

const WG: u32 = 64u;
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
    let r = wg.x + wg.y * nwg.x;
    let t = wg.z;
    if (r >= P.rows || t >= token_count()) {
        return;
    }
    let row = P.w_base + r * P.row_bytes;
    let xrow = P.x_base + t * P.x_stride;
    let n_chunks = (P.cols + 31u) / 32u;
    var acc = 0.0;
    for (var j = tid; j < n_chunks; j += WG) {
        let w = chunk(row, j, P.cols);
        let c0 = j * 32u;
        if (c0 + 32u <= P.cols) {
            for (var l = 0u; l < 32u; l++) {
                acc += w[l] * X[xrow + c0 + l];
            }
        } else {
            for (var l = 0u; l < P.cols - c0; l++) {
                acc += w[l] * X[xrow + c0 + l];
            }
        }
    }
    partial[tid] = acc;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (tid < s) {
            partial[tid] += partial[tid + s];
        }
        workgroupBarrier();
    }
    if (tid == 0u) {
        Y[P.y_base + t * P.y_stride + r] = partial[0];
    }
}
