// Prepares the heads of the fused q|k|v projection (each token's row: n_head query heads, then
// n_head_kv key heads, then n_head_kv value heads), one workgroup per (head, token): adds the
// bias (Qwen 2), applies the per-head RMSNorm to queries and keys (Qwen 3, Gemma 3), rotates
// their first n_rot dimensions (adjacent pairs or NeoX halves), writes queries back in place
// for attention and keys and values into the KV cache at position p0 + t.
#include step
#include kv_element

struct Rope {
    head_dim: u32,
    head_dim_v: u32,
    n_head: u32,
    n_head_kv: u32,
    n_rot: u32,
    interleaved: u32,
    has_q_norm: u32,
    has_k_norm: u32,
    has_bias: u32,
    eps: f32,
    // Floats a token's q|k|v row holds, and where its keys and values begin.
    stride: u32,
    k_offset: u32,
    v_offset: u32,
    // With has_q_scale, queries are multiplied by A[q_scale_at + t].x after rotation (Mistral
    // 3's attention temperature: a scale by position).
    q_scale_at: u32,
    has_q_scale: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read_write> QKV: array<f32>;
@group(0) @binding(1) var<storage, read_write> KC: array<KvElement>;
@group(0) @binding(2) var<storage, read_write> VC: array<KvElement>;
@group(0) @binding(3) var<storage, read> QN: array<f32>;
@group(0) @binding(4) var<storage, read> KN: array<f32>;
// The q|k|v bias, one row.
@group(0) @binding(5) var<storage, read> B: array<f32>;
// (cos, sin) of each (token, frequency), computed on the host as the CPU backend does.
@group(0) @binding(6) var<storage, read> A: array<vec2<f32>>;
@group(0) @binding(7) var<uniform> P: Rope;
@group(0) @binding(8) var<uniform> S: Step;

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
    // 0: a query head, 1: a key head, 2: a value head; and where it sits in the row.
    var kind = 0u;
    var offset = h * P.head_dim;
    var dim = P.head_dim;
    var n_rot = P.n_rot;
    var norm = P.has_q_norm == 1u;
    if (h >= P.n_head + P.n_head_kv) {
        kind = 2u;
        offset = P.v_offset + (h - P.n_head - P.n_head_kv) * P.head_dim_v;
        dim = P.head_dim_v;
        n_rot = 0u;
        norm = false;
    } else if (h >= P.n_head) {
        kind = 1u;
        offset = P.k_offset + (h - P.n_head) * P.head_dim;
        norm = P.has_k_norm == 1u;
    }
    let base = t * P.stride + offset;
    var acc = 0.0;
    for (var i = tid; i < dim; i += WG) {
        var v = QKV[base + i];
        if (P.has_bias == 1u) {
            v += B[offset + i];
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
    if (norm) {
        let scale = 1.0 / sqrt(partial[0] / f32(dim) + P.eps);
        for (var i = tid; i < dim; i += WG) {
            var g: f32;
            if (kind == 0u) {
                g = QN[i];
            } else {
                g = KN[i];
            }
            head[i] = head[i] * scale * g;
        }
    }
    workgroupBarrier();
    let half = n_rot / 2u;
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
    let pos = S.p0 + t;
    for (var i = tid; i < dim; i += WG) {
        if (kind == 0u) {
            var v = head[i];
            if (P.has_q_scale == 1u) {
                v *= A[P.q_scale_at + t].x;
            }
            QKV[base + i] = v;
        } else if (kind == 1u) {
            KC[pos * (P.v_offset - P.k_offset) + offset - P.k_offset + i] = KvElement(head[i]);
        } else {
            VC[pos * (P.stride - P.v_offset) + offset - P.v_offset + i] = KvElement(head[i]);
        }
    }
}
