// Prepares the heads of a projection in place, one workgroup per (head, token): adds the bias
// (Qwen 2), applies the per-head RMSNorm (Qwen 3, Gemma 3), rotates the first n_rot dimensions
// (adjacent pairs or NeoX halves), and for keys and values copies the head into the KV cache at
// position p0 + t. Values use it with n_rot = 0: bias and cache copy only.
#include step
#include kv_element

struct Rope {
    head_dim: u32,
    n_heads: u32,
    n_rot: u32,
    interleaved: u32,
    has_norm: u32,
    has_bias: u32,
    eps: f32,
    to_cache: u32,
}

@group(0) @binding(0) var<storage, read_write> V: array<f32>;
@group(0) @binding(1) var<storage, read_write> C: array<KvElement>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
// (cos, sin) of each (token, frequency), computed on the host as the CPU backend does.
@group(0) @binding(4) var<storage, read> A: array<vec2<f32>>;
@group(0) @binding(5) var<uniform> P: Rope;
@group(0) @binding(6) var<uniform> S: Step;

const WG: u32 = 64u;
const MAX_HEAD: u32 = 512u;
var<workgroup> head: array<f32, MAX_HEAD>;
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let h = wg.x;
    let t = wg.y;
    if (t >= S.n_tokens) {
        return;
    }
    let width = P.n_heads * P.head_dim;
    let base = t * width + h * P.head_dim;
    var acc = 0.0;
    for (var i = tid; i < P.head_dim; i += WG) {
        var v = V[base + i];
        if (P.has_bias == 1u) {
            v += B[h * P.head_dim + i];
        }
        head[i] = v;
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
    if (P.has_norm == 1u) {
        let scale = 1.0 / sqrt(partial[0] / f32(P.head_dim) + P.eps);
        for (var i = tid; i < P.head_dim; i += WG) {
            head[i] = head[i] * scale * G[i];
        }
    }
    workgroupBarrier();
    let half = P.n_rot / 2u;
    for (var i = tid; i < half; i += WG) {
        var a = i;
        var b = i + half;
        if (P.interleaved == 1u) {
            a = 2u * i;
            b = 2u * i + 1u;
        }
        let cs = A[t * half + i];
        let x0 = head[a];
        let x1 = head[b];
        head[a] = x0 * cs.x - x1 * cs.y;
        head[b] = x0 * cs.y + x1 * cs.x;
    }
    workgroupBarrier();
    for (var i = tid; i < P.head_dim; i += WG) {
        V[base + i] = head[i];
        if (P.to_cache == 1u) {
            C[(S.p0 + t) * width + h * P.head_dim + i] = KvElement(head[i]);
        }
    }
}
