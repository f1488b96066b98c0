// Causal attention with grouped KV heads and an optional sliding window, one workgroup per
// (query head, token): scores = scale q.k (softcapped for Gemma 2) over the visible keys, a
// softmax with its max and sum reduced in shared memory, then the weighted sum of values.
// Query t at position p = p0 + t sees key j when j <= p and, with a window w, p - j < w.
#include step

struct Attention {
    head_dim: u32,
    head_dim_v: u32,
    n_head: u32,
    // Query heads per KV head.
    group: u32,
    scale: f32,
    softcap: f32,
    window: u32,
    n_ctx: u32,
    q_stride: u32,
    k_stride: u32,
    v_stride: u32,
    o_stride: u32,
}

@group(0) @binding(0) var<storage, read> Q: array<f32>;
@group(0) @binding(1) var<storage, read> K: array<f32>;
@group(0) @binding(2) var<storage, read> Vc: array<f32>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
// Scratch: one row of n_ctx scores per (token, head).
@group(0) @binding(4) var<storage, read_write> SC: array<f32>;
@group(0) @binding(5) var<uniform> P: Attention;
@group(0) @binding(6) var<uniform> S: Step;

const WG: u32 = 64u;
const MAX_HEAD: u32 = 512u;
var<workgroup> q: array<f32, MAX_HEAD>;
var<workgroup> partial: array<f32, WG>;

fn reduce_max(tid: u32, v: f32) -> f32 {
    partial[tid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (tid < s) {
            partial[tid] = max(partial[tid], partial[tid + s]);
        }
        workgroupBarrier();
    }
    let m = partial[0];
    workgroupBarrier();
    return m;
}

fn reduce_sum(tid: u32, v: f32) -> f32 {
    partial[tid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (tid < s) {
            partial[tid] += partial[tid + s];
        }
        workgroupBarrier();
    }
    let m = partial[0];
    workgroupBarrier();
    return m;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let h = wg.x;
    let t = wg.y;
    if (t >= S.n_tokens) {
        return;
    }
    let kvh = h / P.group;
    let pos = S.p0 + t;
    var start = 0u;
    if (P.window > 0u && pos + 1u > P.window) {
        start = pos + 1u - P.window;
    }
    let qb = t * P.q_stride + h * P.head_dim;
    for (var i = tid; i < P.head_dim; i += WG) {
        q[i] = Q[qb + i];
    }
    workgroupBarrier();
    let row = (t * P.n_head + h) * P.n_ctx;
    var m = -3.0e38;
    for (var j = start + tid; j <= pos; j += WG) {
        let kb = j * P.k_stride + kvh * P.head_dim;
        var s = 0.0;
        for (var i = 0u; i < P.head_dim; i++) {
            s += q[i] * K[kb + i];
        }
        s *= P.scale;
        if (P.softcap > 0.0) {
            s = P.softcap * tanh(clamp(s / P.softcap, -10.0, 10.0));
        }
        SC[row + j - start] = s;
        m = max(m, s);
    }
    m = reduce_max(tid, m);
    var sum = 0.0;
    for (var j = start + tid; j <= pos; j += WG) {
        let e = exp(SC[row + j - start] - m);
        SC[row + j - start] = e;
        sum += e;
    }
    sum = reduce_sum(tid, sum);
    // Make every thread's probabilities visible to the value pass.
    storageBarrier();
    workgroupBarrier();
    let inv = 1.0 / sum;
    let ob = t * P.o_stride + h * P.head_dim_v;
    for (var d = tid; d < P.head_dim_v; d += WG) {
        var acc = 0.0;
        for (var j = start; j <= pos; j++) {
            acc += SC[row + j - start] * Vc[j * P.v_stride + kvh * P.head_dim_v + d];
        }
        O[ob + d] = acc * inv;
    }
}
