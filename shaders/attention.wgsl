// Causal attention of a batch (prefill) with grouped KV heads and an optional sliding window:
// one workgroup per (query head, token), an online softmax over the visible keys in tiles
// (attention_tile.wgsl), the output normalised at the end.
#include attention_tile

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let h = wg.x;
    let t = wg.y;
    if (t >= S.n_tokens) {
        return;
    }
    let pos = S.p0 + t;
    let a = attend(tid, h, t, first_key(pos), pos + 1u);
    let inv = 1.0 / a.l;
    let ob = t * P.o_stride + h * P.head_dim_v;
    for (var k = 0u; k < DIMS_PER_THREAD; k++) {
        let d = tid + k * WG;
        if (d < P.head_dim_v) {
            O[ob + d] = a.acc[k] * inv;
        }
    }
}
