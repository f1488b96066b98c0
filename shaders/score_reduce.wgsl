// The scoring kernels' workgroup reductions over WG threads (a constant of the including
// kernel), each run once per invocation of the kernel: the best (value, id), the larger value
// and on ties the lower id, as numpy's argmax, and a sum.
var<workgroup> best: array<f32, WG>;
var<workgroup> best_id: array<u32, WG>;
var<workgroup> total: array<f32, WG>;

struct Best {
    value: f32,
    id: u32,
}

fn ranks_first(v: f32, id: u32, than: f32, than_id: u32) -> bool {
    return v > than || (v == than && id < than_id);
}

fn workgroup_best(tid: u32, v: f32, id: u32) -> Best {
    best[tid] = v;
    best_id[tid] = id;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (tid < s && ranks_first(best[tid + s], best_id[tid + s], best[tid], best_id[tid])) {
            best[tid] = best[tid + s];
            best_id[tid] = best_id[tid + s];
        }
        workgroupBarrier();
    }
    return Best(best[0], best_id[0]);
}

fn workgroup_sum(tid: u32, v: f32) -> f32 {
    total[tid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (tid < s) {
            total[tid] += total[tid + s];
        }
        workgroupBarrier();
    }
    return total[0];
}
