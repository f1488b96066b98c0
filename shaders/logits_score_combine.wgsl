// Merges logits_score.wgsl's chunks of each row: the row's max M, sum(exp(l - M)) as the sum of
// each chunk's sum rescaled by exp(max_chunk - M), the argmax (the first chunk holding M holds
// the lowest id among the ties, since chunks go in id order) and the logit of the row's target
// token. log p(target) = l_target - M - ln sum.
#include step
#include score_params

@group(0) @binding(0) var<storage, read> PART: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> L: array<f32>;
@group(0) @binding(2) var<storage, read> T: array<u32>;
@group(0) @binding(3) var<storage, read_write> O: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> P: Score;
@group(0) @binding(5) var<uniform> S: Step;

const WG: u32 = 64u;
#include score_reduce

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let r = wg.x;
    if (r >= S.n_logits) {
        return;
    }
    let parts = r * P.n_chunks;
    var m = -3.4e38;
    var mi = 0xffffffffu;
    for (var c = tid; c < P.n_chunks; c += WG) {
        let p = PART[parts + c];
        if (ranks_first(p.x, bitcast<u32>(p.z), m, mi)) {
            m = p.x;
            mi = bitcast<u32>(p.z);
        }
    }
    let top = workgroup_best(tid, m, mi);
    var acc = 0.0;
    for (var c = tid; c < P.n_chunks; c += WG) {
        let p = PART[parts + c];
        acc += p.y * exp(p.x - top.value);
    }
    let sum = workgroup_sum(tid, acc);
    if (tid == 0u) {
        let tgt = min(T[r], P.n_vocab - 1u);
        O[r] = vec4<f32>(top.value, sum, bitcast<f32>(top.id), L[r * P.n_vocab + tgt]);
    }
}
