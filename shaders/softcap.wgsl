// Final logit soft-capping (Gemma 2), in place: l = cap tanh(l / cap).
#include step

struct Softcap {
    n_vocab: u32,
    cap: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read_write> L: array<f32>;
@group(0) @binding(1) var<uniform> P: Softcap;
@group(0) @binding(2) var<uniform> S: Step;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    if (i >= S.n_logits * P.n_vocab) {
        return;
    }
    L[i] = P.cap * tanh(clamp(L[i] / P.cap, -10.0, 10.0));
}
