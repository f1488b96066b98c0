// Memory bandwidth probe for `bench`: every thread streams a contiguous slice of a large buffer
// and writes one sum, so the kernel's time is the time to read the buffer once.
struct Stream {
    n_vec4: u32,
    per_thread: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> D: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> O: array<f32>;
@group(0) @binding(2) var<uniform> P: Stream;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let threads = nwg.x * 256u;
    var acc = vec4<f32>(0.0);
    // Interleaved so that neighbouring threads read neighbouring addresses.
    for (var k = 0u; k < P.per_thread; k++) {
        let i = k * threads + gid.x;
        if (i < P.n_vec4) {
            acc += D[i];
        }
    }
    O[gid.x] = acc.x + acc.y + acc.z + acc.w;
}
