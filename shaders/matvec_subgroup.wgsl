// Matrix-vector product for decode (matvec_dot.wgsl) on devices with subgroups: a row's lanes
// are min(16, subgroup size) lanes of one subgroup, reduced by butterfly shuffles, with no
// shared memory and no barrier. Lanes are numbered by subgroup_id and subgroup_invocation_id,
// so nothing assumes how the device lays subgroups over the workgroup. With sixteen lanes a
// row the shuffles add in the shared-memory kernel's order, and the result is the same bits.
// (Naga takes subgroup built-ins from the device's features; a browser's compiler wants
// `enable subgroups;`, which the backend puts first there.)
#include matvec_dot

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(subgroup_id) sg: u32, @builtin(subgroup_size) sg_size: u32,
        @builtin(subgroup_invocation_id) sg_lane: u32) {
    let t = wg.z;
    if (t >= token_count()) {
        return;
    }
    let lanes = min(16u, sg_size);
    // This invocation's place among the workgroup's: its segment of `lanes` (a row) and lane.
    let q = sg * sg_size + sg_lane;
    let lane = q % lanes;
    // Every lane of a subgroup runs the same iterations, so the shuffles see all of them.
    let concurrent = WG / lanes;
    for (var k = 0u; k * concurrent < ROWS_PER_GROUP; k++) {
        let in_group = q / lanes + k * concurrent;
        let r = first_row(wg, nwg) + in_group;
        let mine = in_group < ROWS_PER_GROUP && r < P.rows;
        var acc = 0.0;
        var up = 0.0;
        if (mine) {
            acc = lane_dot(r, t, lane, lanes);
            if (P.gated != 0u) {
                up = lane_dot_up(r, t, lane, lanes);
            }
        }
        for (var s = lanes / 2u; s > 0u; s >>= 1u) {
            acc += subgroupShuffleXor(acc, s);
            up += subgroupShuffleXor(up, s);
        }
        if (lane == 0u && mine) {
            write_row(r, t, acc, up);
        }
    }
}
