// Matrix-vector product for decode (matvec_dot.wgsl): sixteen threads a row, reduced in shared
// memory. The path for devices without subgroups (WebGPU in today's browsers).
#include matvec_dot

const LANES: u32 = 16u;
var<workgroup> partial: array<f32, WG>;
var<workgroup> partial_up: array<f32, WG>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
    let t = wg.z;
    if (t >= token_count()) {
        return;
    }
    let lane = tid % LANES;
    let r = first_row(wg, nwg) + tid / LANES;
    let gated = P.gated != 0u;
    var acc = 0.0;
    var up = 0.0;
    if (r < P.rows) {
        acc = lane_dot(r, t, lane, LANES);
        if (gated) {
            up = lane_dot_up(r, t, lane, LANES);
        }
    }
    partial[tid] = acc;
    partial_up[tid] = up;
    workgroupBarrier();
    for (var s = LANES / 2u; s > 0u; s >>= 1u) {
        if (lane < s) {
            partial[tid] += partial[tid + s];
            if (gated) {
                partial_up[tid] += partial_up[tid + s];
            }
        }
        workgroupBarrier();
    }
    if (lane == 0u && r < P.rows) {
        write_row(r, t, partial[tid], partial_up[tid]);
    }
}
