// RMSNorm of all query heads of a token together, and of all its key heads (OLMo 2), in place
// in the q|k|v row before rope.wgsl rotates them: one workgroup per (part, token), part 0 the
// queries and 1 the keys, so the workgroup that sums a part's squares is the only one that
// writes it.
#include step

struct QkNorm {
    q_width: u32,
    k_width: u32,
    // Floats a token's q|k|v row holds, and where its keys begin.
    stride: u32,
    k_offset: u32,
    eps: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read_write> QKV: array<f32>;
@group(0) @binding(1) var<storage, read> QN: array<f32>;
@group(0) @binding(2) var<storage, read> KN: array<f32>;
@group(0) @binding(3) var<uniform> P: QkNorm;
@group(0) @binding(4) var<uniform> S: Step;

const WG: u32 = 64u;
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let part = wg.x;
    let t = wg.y;
    if (t >= S.n_tokens) {
        return;
    }
    var width = P.q_width;
    var base = t * P.stride;
    if (part == 1u) {
        width = P.k_width;
        base += P.k_offset;
    }
    var acc = 0.0;
    for (var i = tid; i < width; i += WG) {
        let v = QKV[base + i];
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
    let scale = 1.0 / sqrt(partial[0] / f32(width) + P.eps);
    for (var i = tid; i < width; i += WG) {
        var g: f32;
        if (part == 0u) {
            g = QN[i];
        } else {
            g = KN[i];
        }
        QKV[base + i] = QKV[base + i] * scale * g;
    }
}
