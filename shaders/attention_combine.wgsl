// Merges decode's split-KV partial results (attention_split.wgsl), one workgroup per query head:
// with M the largest split max, out = sum_s acc_s exp(m_s - M) / sum_s l_s exp(m_s - M).
#include step
#include attention_splits
#include attention_params

@group(0) @binding(0) var<storage, read> PART: array<f32>;
@group(0) @binding(1) var<storage, read_write> O: array<f32>;
@group(0) @binding(2) var<uniform> P: Attention;
@group(0) @binding(3) var<uniform> S: Step;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let h = wg.x;
    let pos = S.p0;
    let n = n_splits(pos + 1u - first_key(pos));
    let stride = P.head_dim_v + 2u;
    var m = -3.0e38;
    for (var s = 0u; s < n; s++) {
        m = max(m, PART[(h * MAX_SPLITS + s) * stride]);
    }
    var l = 0.0;
    for (var s = 0u; s < n; s++) {
        let b = (h * MAX_SPLITS + s) * stride;
        l += PART[b + 1u] * exp(PART[b] - m);
    }
    let inv = 1.0 / l;
    for (var d = tid; d < P.head_dim_v; d += 64u) {
        var acc = 0.0;
        for (var s = 0u; s < n; s++) {
            let b = (h * MAX_SPLITS + s) * stride;
            acc += PART[b + 2u + d] * exp(PART[b] - m);
        }
        O[h * P.head_dim_v + d] = acc * inv;
    }
}
