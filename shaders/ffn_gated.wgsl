// The gated feed-forward's activation, in place: gate = act(gate) * up, with act SiLU
// (SwiGLU) or tanh-approximated GELU (GeGLU, Gemma).
#include step
#include activation

struct Gated {
    n_ff: u32,
    // 0: SiLU, 1: GELU.
    gelu: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read_write> G: array<f32>;
@group(0) @binding(1) var<storage, read> U: array<f32>;
@group(0) @binding(2) var<uniform> P: Gated;
@group(0) @binding(3) var<uniform> S: Step;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    if (i >= S.n_tokens * P.n_ff) {
        return;
    }
    let g = G[i];
    var a: f32;
    if (P.gelu == 1u) {
        a = gelu(g);
    } else {
        a = silu(g);
    }
    G[i] = a * U[i];
}
