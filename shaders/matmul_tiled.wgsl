// Matrix-matrix product for prefill: a workgroup computes 64 rows x 16 tokens. At each step
// every thread dequantizes one 32-column chunk of its own row into registers while the
// workgroup loads the same columns of its 16 tokens into shared memory; each thread then
// multiplies its chunk with all 16 tokens. Every weight is dequantized once per 16 tokens, and
// every thread does work at every step.
#include step
#include bytes
#include matmul_params
#include format

const TR: u32 = 64u;
const TT: u32 = 16u;
var<workgroup> xt: array<array<f32, 32>, TT>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let r = wg.x * TR + tid;
    let t0 = wg.y * TT;
    let n = token_count();
    let n_chunks = (P.cols + 31u) / 32u;
    let row = P.w_base + min(r, P.rows - 1u) * P.row_bytes;
    var acc: array<f32, TT>;
    for (var j = 0u; j < n_chunks; j++) {
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
        // Rows past the end compute on the last row and are not written.
        let w = chunk(row, j, P.cols);
        for (var l = 0u; l < 32u; l++) {
            for (var k = 0u; k < TT; k++) {
                acc[k] += w[l] * xt[k][l];
            }
        }
        workgroupBarrier();
    }
    if (r < P.rows) {
        for (var k = 0u; k < TT; k++) {
            let t = t0 + k;
            if (t < n) {
                store(P.y_base + t * P.y_stride + r, acc[k]);
            }
        }
    }
}
