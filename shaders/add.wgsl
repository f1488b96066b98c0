// The residual stream: x += y over the batch.
#include step

struct Add {
    width: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read_write> X: array<f32>;
@group(0) @binding(1) var<storage, read> Yv: array<f32>;
@group(0) @binding(2) var<uniform> P: Add;
@group(0) @binding(3) var<uniform> S: Step;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    if (i >= S.n_tokens * P.width) {
        return;
    }
    X[i] += Yv[i];
}
