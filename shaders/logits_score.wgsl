// Reduces each row of logits on the GPU to what a token step needs, so a step reads back 16
// bytes a position instead of the vocabulary. This first stage spreads a row over workgroups,
// each taking `chunk` logits (a 262144-logit row is 64 chunks: one workgroup would read the
// whole megabyte alone): per chunk the max, sum(exp(l - max)) and the argmax (first on ties, as
// numpy's). logits_score_combine.wgsl merges the chunks.
#include step
#include score_params

@group(0) @binding(0) var<storage, read> L: array<f32>;
@group(0) @binding(1) var<storage, read_write> PART: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> P: Score;
@group(0) @binding(3) var<uniform> S: Step;

const WG: u32 = 256u;
#include score_reduce

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let r = wg.x;
    let part = wg.y;
    if (r >= S.n_logits) {
        return;
    }
    let base = r * P.n_vocab;
    let begin = part * P.chunk;
    let end = min(begin + P.chunk, P.n_vocab);
    // Ids rise along a thread's stride, so the first strictly larger value is the first maximum.
    var m = -3.4e38;
    var mi = 0xffffffffu;
    for (var i = begin + tid; i < end; i += WG) {
        let v = L[base + i];
        if (v > m) {
            m = v;
            mi = i;
        }
    }
    let top = workgroup_best(tid, m, mi);
    var acc = 0.0;
    for (var i = begin + tid; i < end; i += WG) {
        acc += exp(L[base + i] - top.value);
    }
    let sum = workgroup_sum(tid, acc);
    if (tid == 0u) {
        PART[r * P.n_chunks + part] = vec4<f32>(top.value, sum, bitcast<f32>(top.id), 0.0);
    }
}
