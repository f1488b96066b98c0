// Matrix-matrix product for prefill: a workgroup computes a 16-row x 16-token tile. Each step
// dequantizes one 32-column chunk of its 16 weight rows and loads the same columns of its 16
// tokens into shared memory, so every weight is dequantized once per 16 tokens, not per token.
#include step
#include bytes
#include matmul_params
#include format

const TR: u32 = 16u;
const TT: u32 = 16u;
var<workgroup> wt: array<array<f32, 32>, TR>;
var<workgroup> xt: array<array<f32, 32>, TT>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let r0 = wg.x * TR;
    let t0 = wg.y * TT;
    let n = token_count();
    let n_chunks = (P.cols + 31u) / 32u;
    // Each thread owns one row and four tokens of the tile.
    let my_r = tid % TR;
    let my_t = (tid / TR) * 4u;
    var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
    for (var j = 0u; j < n_chunks; j++) {
        if (tid < TR) {
            let r = r0 + tid;
            if (r < P.rows) {
                wt[tid] = chunk(P.w_base + r * P.row_bytes, j, P.cols);
            } else {
                wt[tid] = array<f32, 32>();
            }
        }
        for (var e = tid; e < TT * 32u; e += 64u) {
            let tt = e / 32u;
            let c = j * 32u + e % 32u;
            var v = 0.0;
            if (t0 + tt < n && c < P.cols) {
                v = X[P.x_base + (t0 + tt) * P.x_stride + c];
            }
            xt[tt][e % 32u] = v;
        }
        workgroupBarrier();
        for (var l = 0u; l < 32u; l++) {
            let w = wt[my_r][l];
            for (var k = 0u; k < 4u; k++) {
                acc[k] += w * xt[my_t + k][l];
            }
        }
        workgroupBarrier();
    }
    let r = r0 + my_r;
    if (r < P.rows) {
        for (var k = 0u; k < 4u; k++) {
            let t = t0 + my_t + k;
            if (t < n) {
                Y[P.y_base + t * P.y_stride + r] = acc[k];
            }
        }
    }
}
