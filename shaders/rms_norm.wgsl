// y = x / sqrt(mean(x^2) + eps) * g, one workgroup per row; with `accumulate`, y += that
// instead (Gemma's post-norms feed the residual stream directly).
#include step

struct Norm {
    width: u32,
    eps: f32,
    accumulate: u32,
    // 0: every row of the batch; 1: its last n_logits rows, written from row 0 (output norm).
    rows_sel: u32,
}

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<uniform> P: Norm;
@group(0) @binding(4) var<uniform> S: Step;

const WG: u32 = 64u;
var<workgroup> partial: array<f32, WG>;

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
    partial[tid] = acc;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (tid < s) {
            partial[tid] += partial[tid + s];
        }
        workgroupBarrier();
    }
    let scale = 1.0 / sqrt(partial[0] / f32(P.width) + P.eps);
    for (var i = tid; i < P.width; i += WG) {
        let v = X[xb + i] * scale * G[i];
        if (P.accumulate == 1u) {
            Y[yb + i] += v;
        } else {
            Y[yb + i] = v;
        }
    }
}
