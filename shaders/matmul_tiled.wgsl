// Matrix-matrix product for prefill: a workgroup computes 64 rows x 16 tokens. At each step
// every thread dequantizes one 32-column chunk of its own row into registers while the
// workgroup loads the same columns of its 16 tokens into shared memory; each thread then
// multiplies its chunk with all 16 tokens. Every weight is dequantized once per 16 tokens, and
// every thread does work at every step. A gated product (matmul_params.wgsl) takes the gate's
// and the up projection's row together, in a path of its own so the plain one keeps its
// registers.
#include step
#include bytes
#include matmul_params

const TR: u32 = 64u;
const TT: u32 = 16u;
var<workgroup> xt: array<array<f32, 32>, TT>;

// Columns j*32.. of the workgroup's 16 tokens into shared memory.
fn load_tokens(t0: u32, j: u32, tid: u32, n: u32) {
    for (var e = tid; e < TT * 32u; e += 64u) {
        let tt = e / 32u;
        let c = j * 32u + e % 32u;
        var v = 0.0;
        if (t0 + tt < n && c < P.cols) {
            v = X[P.x_base + (t0 + tt) * P.x_stride + c];
        }
        xt[tt][e % 32u] = v;
    }
}

fn plain(r: u32, t0: u32, tid: u32, n: u32) {
    let n_chunks = (P.cols + 31u) / 32u;
    // Rows past the end compute on the last row and are not written.
    let rr = min(r, P.rows - 1u);
    var acc: array<f32, TT>;
    for (var j = 0u; j < n_chunks; j++) {
        load_tokens(t0, j, tid, n);
        workgroupBarrier();
        let w = row_chunk(rr, j);
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

fn gated(r: u32, t0: u32, tid: u32, n: u32) {
    let n_chunks = (P.cols + 31u) / 32u;
    let rr = min(r, P.rows - 1u);
    var acc: array<f32, TT>;
    var acc_up: array<f32, TT>;
    for (var j = 0u; j < n_chunks; j++) {
        load_tokens(t0, j, tid, n);
        workgroupBarrier();
        let w = row_chunk(rr, j);
        let u = up_chunk(rr, j);
        for (var l = 0u; l < 32u; l++) {
            for (var k = 0u; k < TT; k++) {
                acc[k] += w[l] * xt[k][l];
                acc_up[k] += u[l] * xt[k][l];
            }
        }
        workgroupBarrier();
    }
    if (r < P.rows) {
        for (var k = 0u; k < TT; k++) {
            let t = t0 + k;
            if (t < n) {
                store(P.y_base + t * P.y_stride + r, gate_times_up(acc[k], acc_up[k]));
            }
        }
    }
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let r = wg.x * TR + tid;
    let t0 = wg.y * TT;
    let n = token_count();
    if (P.gated != 0u) {
        gated(r, t0, tid, n);
    } else {
        plain(r, t0, tid, n);
    }
}
