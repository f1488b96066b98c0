// y = x / sqrt(mean(x^2) + eps) * g, one workgroup per row; with `accumulate`, y += that
// instead (Gemma's post-norms feed the residual stream directly). With `then_norm` the row of y
// it leaves is normalized again into z with g2: a post-norm into the residual stream and the
// next sub-layer's input norm in one pass.
#include step

struct Norm {
    width: u32,
    eps: f32,
    accumulate: u32,
    // 0: every row of the batch; 1: its last n_logits rows, written from row 0 (output norm).
    rows_sel: u32,
    then_norm: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> Z: array<f32>;
@group(0) @binding(4) var<storage, read> G2: array<f32>;
@group(0) @binding(5) var<uniform> P: Norm;
@group(0) @binding(6) var<uniform> S: Step;

const WG: u32 = 64u;
var<workgroup> partial: array<f32, WG>;

// The inverse RMS of a row whose squares this thread summed into `acc`.
fn inverse_rms(acc: f32, tid: u32) -> f32 {
    partial[tid] = acc;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (tid < s) {
            partial[tid] += partial[tid + s];
        }
        workgroupBarrier();
    }
    let scale = 1.0 / sqrt(partial[0] / f32(P.width) + P.eps);
    // Every thread has read the sum before a second reduction overwrites it.
    workgroupBarrier();
    return scale;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let r = wg.x;
    var src = r;
    if (P.rows_sel == 1u) {
        if (r >= S.n_logits) {
            return;
        }
        src = r + S.n_tokens - S.n_logits;
    } else if (r >= S.n_tokens) {
        return;
    }
    let xb = src * P.width;
    let yb = r * P.width;
    var acc = 0.0;
    for (var i = tid; i < P.width; i += WG) {
        let v = X[xb + i];
        acc += v * v;
    }
    let scale = inverse_rms(acc, tid);
    var acc2 = 0.0;
    for (var i = tid; i < P.width; i += WG) {
        var v = X[xb + i] * scale * G[i];
        if (P.accumulate == 1u) {
            v += Y[yb + i];
        }
        Y[yb + i] = v;
        acc2 += v * v;
    }
    if (P.then_norm == 1u) {
        // Each thread reads back only the elements it wrote.
        let scale2 = inverse_rms(acc2, tid);
        for (var i = tid; i < P.width; i += WG) {
            Z[yb + i] = Y[yb + i] * scale2 * G2[i];
        }
    }
}
