// Top-k of the last logits row, so that sampling with a top-k limit reads back k (key, id)
// pairs instead of the vocabulary. One pass: each workgroup takes up to 4096 items (the row's
// logits, whose ids are their positions, or a previous pass's candidates) and writes its k best;
// passes repeat until one workgroup is left. The order is canonical: logit descending as
// f32::total_cmp orders floats, id ascending on ties, so the result equals the CPU's
// `engine::top_k` on the same row, ties included.
#include step

struct TopK {
    // Items this pass reads.
    n: u32,
    k: u32,
    // 0: the last logits row; 1: a previous pass's (key, id) candidates.
    from_candidates: u32,
    n_vocab: u32,
}

@group(0) @binding(0) var<storage, read> L: array<f32>;
@group(0) @binding(1) var<storage, read> C_in: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read_write> C_out: array<vec2<u32>>;
@group(0) @binding(3) var<uniform> P: TopK;
@group(0) @binding(4) var<uniform> S: Step;

const WG: u32 = 256u;
// Items a thread holds: a workgroup takes WG * ITEMS of them.
const ITEMS: u32 = 16u;
// An empty slot: key 0 with the largest id ranks below every real item.
const NONE: u32 = 0xffffffffu;
var<workgroup> red_key: array<u32, WG>;
var<workgroup> red_id: array<u32, WG>;

// The bits of an f32 as a u32 whose unsigned order is f32::total_cmp's.
fn order_key(bits: u32) -> u32 {
    if ((bits & 0x80000000u) != 0u) {
        return ~bits;
    }
    return bits | 0x80000000u;
}

fn ranks_before(ka: u32, ia: u32, kb: u32, ib: u32) -> bool {
    return ka > kb || (ka == kb && ia < ib);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let first = wg.x * WG * ITEMS;
    let row = (S.n_logits - 1u) * P.n_vocab;
    var keys: array<u32, ITEMS>;
    var ids: array<u32, ITEMS>;
    for (var e = 0u; e < ITEMS; e++) {
        let i = first + e * WG + tid;
        keys[e] = 0u;
        ids[e] = NONE;
        if (i < P.n) {
            if (P.from_candidates == 1u) {
                let c = C_in[i];
                keys[e] = c.x;
                ids[e] = c.y;
            } else {
                keys[e] = order_key(bitcast<u32>(L[row + i]));
                ids[e] = i;
            }
        }
    }
    // This thread's best item not yet taken.
    var best = 0u;
    for (var e = 1u; e < ITEMS; e++) {
        if (ranks_before(keys[e], ids[e], keys[best], ids[best])) {
            best = e;
        }
    }
    // k rounds: the workgroup's best item goes out and its thread offers its next best.
    for (var r = 0u; r < P.k; r++) {
        red_key[tid] = keys[best];
        red_id[tid] = ids[best];
        workgroupBarrier();
        for (var s = WG / 2u; s > 0u; s >>= 1u) {
            if (tid < s && ranks_before(red_key[tid + s], red_id[tid + s], red_key[tid], red_id[tid])) {
                red_key[tid] = red_key[tid + s];
                red_id[tid] = red_id[tid + s];
            }
            workgroupBarrier();
        }
        let won_key = red_key[0];
        let won_id = red_id[0];
        if (tid == 0u) {
            C_out[wg.x * P.k + r] = vec2<u32>(won_key, won_id);
        }
        if (won_id != NONE && ids[best] == won_id) {
            keys[best] = 0u;
            ids[best] = NONE;
            best = 0u;
            for (var e = 1u; e < ITEMS; e++) {
                if (ranks_before(keys[e], ids[e], keys[best], ids[best])) {
                    best = e;
                }
            }
        }
        workgroupBarrier();
    }
}
