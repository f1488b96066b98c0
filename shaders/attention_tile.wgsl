// What attention.wgsl and attention_split.wgsl share: the parameters, the bindings, and
// `attend`, an online softmax over a range of keys in tiles of WG keys (a running max and sum,
// the weighted values rescaled as the max grows), so no score is ever written to memory.
#include step
#include kv_element

#include attention_params

@group(0) @binding(0) var<storage, read> Q: array<f32>;
@group(0) @binding(1) var<storage, read> K: array<KvElement>;
@group(0) @binding(2) var<storage, read> Vc: array<KvElement>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
// Split-KV partial results: per (head, split) the max, the sum and head_dim_v weighted values.
@group(0) @binding(4) var<storage, read_write> PART: array<f32>;
@group(0) @binding(5) var<uniform> P: Attention;
@group(0) @binding(6) var<uniform> S: Step;

const WG: u32 = 64u;
const MAX_HEAD: u32 = 512u;
// Output dimensions per thread: dimension tid + k * WG for k < DIMS_PER_THREAD.
const DIMS_PER_THREAD: u32 = 8u;
var<workgroup> q: array<f32, MAX_HEAD>;
var<workgroup> probs: array<f32, WG>;
var<workgroup> partial: array<f32, WG>;

#include attention_splits

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

// Softmax state of keys begin..end for query head h of token t: the running max m, the sum of
// exp(s - m) l, and this thread's dimensions of sum exp(s - m) v.
struct Attended {
    m: f32,
    l: f32,
    acc: array<f32, DIMS_PER_THREAD>,
}

fn attend(tid: u32, h: u32, t: u32, begin: u32, end: u32) -> Attended {
    let kvh = h / P.group;
    let qb = t * P.q_stride + h * P.head_dim;
    for (var i = tid; i < P.head_dim; i += WG) {
        q[i] = Q[qb + i];
    }
    workgroupBarrier();
    var out: Attended;
    out.m = -3.0e38;
    out.l = 0.0;
    for (var k = 0u; k < DIMS_PER_THREAD; k++) {
        out.acc[k] = 0.0;
    }
    for (var tile = begin; tile < end; tile += WG) {
        let j = tile + tid;
        var s = -3.0e38;
        if (j < end) {
            let kb = j * P.k_stride + kvh * P.head_dim;
            var qk = 0.0;
            for (var i = 0u; i < P.head_dim; i++) {
                qk += q[i] * f32(K[kb + i]);
            }
            s = qk * P.scale;
            if (P.softcap > 0.0) {
                s = P.softcap * tanh(clamp(s / P.softcap, -10.0, 10.0));
            }
        }
        let m_new = max(out.m, reduce_max(tid, s));
        var p = 0.0;
        if (j < end) {
            p = exp(s - m_new);
        }
        probs[tid] = p;
        // reduce_sum's barriers also make every thread's probability visible.
        let tile_sum = reduce_sum(tid, p);
        let rescale = exp(out.m - m_new);
        out.l = out.l * rescale + tile_sum;
        out.m = m_new;
        let n = min(WG, end - tile);
        for (var k = 0u; k < DIMS_PER_THREAD; k++) {
            let d = tid + k * WG;
            if (d < P.head_dim_v) {
                var a = out.acc[k] * rescale;
                for (var i = 0u; i < n; i++) {
                    a += probs[i] * f32(Vc[(tile + i) * P.v_stride + kvh * P.head_dim_v + d]);
                }
                out.acc[k] = a;
            }
        }
        // The next tile overwrites the probabilities.
        workgroupBarrier();
    }
    return out;
}
