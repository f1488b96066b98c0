// Decode attention, split over the keys: one token, one workgroup per (query head, split of
// the visible keys), each writing its softmax state (max, sum, weighted values) for
// attention_combine.wgsl to merge. A model with few heads still fills the GPU at long contexts.
#include attention_tile

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let h = wg.x;
    let split = wg.y;
    let pos = S.p0;
    let first = first_key(pos);
    let visible = pos + 1u - first;
    let n = n_splits(visible);
    if (split >= n) {
        return;
    }
    let per_split = (visible + n - 1u) / n;
    let begin = first + min(visible, split * per_split);
    let end = first + min(visible, (split + 1u) * per_split);
    let a = attend(tid, h, 0u, begin, end);
    let base = (h * MAX_SPLITS + split) * (P.head_dim_v + 2u);
    if (tid == 0u) {
        PART[base] = a.m;
        PART[base + 1u] = a.l;
    }
    for (var k = 0u; k < DIMS_PER_THREAD; k++) {
        let d = tid + k * WG;
        if (d < P.head_dim_v) {
            PART[base + 2u + d] = a.acc[k];
        }
    }
}
