// Reduces each row of logits on the GPU to what a token step needs, so a step reads back 16
// bytes a position instead of the vocabulary: the max, sum(exp(l - max)), the argmax (first
// on ties, as numpy's) and the logit of a target token. log p(target) = l_target - max - ln sum.
#include step

struct Score {
    n_vocab: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> L: array<f32>;
@group(0) @binding(1) var<storage, read> T: array<u32>;
@group(0) @binding(2) var<storage, read_write> O: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> P: Score;
@group(0) @binding(4) var<uniform> S: Step;

const WG: u32 = 256u;
var<workgroup> best: array<f32, WG>;
var<workgroup> best_id: array<u32, WG>;
var<workgroup> total: array<f32, WG>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let r = wg.x;
    if (r >= S.n_logits) {
        return;
    }
    let base = r * P.n_vocab;
    var m = -3.4e38;
    var mi = 0xffffffffu;
    for (var i = tid; i < P.n_vocab; i += WG) {
        let v = L[base + i];
        if (v > m) {
            m = v;
            mi = i;
        }
    }
    best[tid] = m;
    best_id[tid] = mi;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (tid < s) {
            let o = best[tid + s];
            let oi = best_id[tid + s];
            if (o > best[tid] || (o == best[tid] && oi < best_id[tid])) {
                best[tid] = o;
                best_id[tid] = oi;
            }
        }
        workgroupBarrier();
    }
    let mx = best[0];
    var acc = 0.0;
    for (var i = tid; i < P.n_vocab; i += WG) {
        acc += exp(L[base + i] - mx);
    }
    total[tid] = acc;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (tid < s) {
            total[tid] += total[tid + s];
        }
        workgroupBarrier();
    }
    if (tid == 0u) {
        let tgt = min(T[r], P.n_vocab - 1u);
        O[r] = vec4<f32>(mx, total[0], bitcast<f32>(best_id[0]), L[base + tgt]);
    }
}
