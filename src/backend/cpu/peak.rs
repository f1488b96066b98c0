//! This machine's f32 fused multiply-add peak, measured: every thread of the pool runs
//! independent chains of vector multiply-adds at once, enough of them to hide the unit's latency
//! on current cores, and the rate is what `bench` compares prefill against.

/// Independent accumulators per thread: 12 vectors of 16 lanes (24 of LLVM's 256-bit registers'
/// worth, or 12 of 512 bits), more than an FMA unit's latency times its issue width.
const CHAINS: usize = 12;
const WIDTH: usize = 16;

#[inline(always)]
fn madd(a: f32, b: f32, c: f32) -> f32 {
    #[cfg(target_feature = "fma")]
    {
        a.mul_add(b, c)
    }
    #[cfg(not(target_feature = "fma"))]
    {
        a * b + c
    }
}

/// `iterations` rounds of `CHAINS * WIDTH` multiply-adds; returns a value the optimizer cannot
/// drop.
#[inline(never)]
fn spin(iterations: u64) -> f32 {
    let m = std::hint::black_box(0.999_999_9f32);
    let a = std::hint::black_box(1e-7f32);
    let mut acc = [[1f32; WIDTH]; CHAINS];
    for _ in 0..iterations {
        for chain in acc.iter_mut() {
            for lane in chain.iter_mut() {
                *lane = madd(*lane, m, a);
            }
        }
    }
    acc.iter().flatten().sum()
}

/// FLOP per second (a multiply-add is two) of all the pool's threads together, best of three
/// rounds of about `seconds / 3` each.
pub fn fma_peak_flops(seconds: f64) -> f64 {
    let flop_per_iteration = (2 * CHAINS * WIDTH) as f64;
    // Calibrate the rounds' length on one thread.
    let mut iterations = 1u64 << 16;
    loop {
        let t = std::time::Instant::now();
        std::hint::black_box(spin(iterations));
        if t.elapsed().as_secs_f64() > 0.01 || iterations > 1 << 40 {
            let per = t.elapsed().as_secs_f64() / iterations as f64;
            iterations = ((seconds / 3.0 / per) as u64).max(1);
            break;
        }
        iterations *= 4;
    }
    let threads = rayon::current_num_threads();
    let mut best = 0f64;
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let sums = rayon::broadcast(|_| spin(iterations));
        std::hint::black_box(sums);
        let rate = flop_per_iteration * iterations as f64 * threads as f64 / t.elapsed().as_secs_f64();
        best = best.max(rate);
    }
    best
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_peak_is_positive_and_finite() {
        let p = super::fma_peak_flops(0.03);
        assert!(p.is_finite() && p > 1e8, "{p}");
    }
}
