//! This machine's f32 fused multiply-add peak, measured: every thread of the pool runs
//! independent chains of vector multiply-adds at once, enough of them to hide the unit's latency
//! on current cores, and the rate is what `bench` compares prefill against.

/// Independent accumulators per thread: more than an FMA unit's latency times its issue width on
/// current cores (4 cycles x 2 units), so the units never wait.
const CHAINS: usize = 12;

/// `iterations` rounds of `CHAINS` vector multiply-adds of `lanes` floats each; returns the lanes
/// per vector and a value the optimizer cannot drop. Written with the target's own vectors: LLVM
/// does not keep a portable version's accumulators in registers.
#[inline(never)]
fn spin(iterations: u64) -> (usize, f32) {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    // SAFETY: compiled only where AVX-512F is enabled; no memory is touched.
    unsafe {
        use std::arch::x86_64::*;
        let m = _mm512_set1_ps(std::hint::black_box(0.999_999_9));
        let a = _mm512_set1_ps(std::hint::black_box(1e-7));
        let mut acc = [_mm512_set1_ps(1.0); CHAINS];
        for _ in 0..iterations {
            for v in acc.iter_mut() {
                *v = _mm512_fmadd_ps(*v, m, a);
            }
        }
        let sum = acc.iter().fold(_mm512_setzero_ps(), |s, v| _mm512_add_ps(s, *v));
        (16, _mm512_reduce_add_ps(sum))
    }
    #[cfg(all(target_arch = "x86_64", target_feature = "fma", not(target_feature = "avx512f")))]
    // SAFETY: compiled only where AVX2's FMA is enabled; no memory is touched.
    unsafe {
        use std::arch::x86_64::*;
        let m = _mm256_set1_ps(std::hint::black_box(0.999_999_9));
        let a = _mm256_set1_ps(std::hint::black_box(1e-7));
        let mut acc = [_mm256_set1_ps(1.0); CHAINS];
        for _ in 0..iterations {
            for v in acc.iter_mut() {
                *v = _mm256_fmadd_ps(*v, m, a);
            }
        }
        let mut out = [0f32; 8];
        _mm256_storeu_ps(out.as_mut_ptr(), acc.iter().fold(_mm256_setzero_ps(), |s, v| _mm256_add_ps(s, *v)));
        (8, out.iter().sum())
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    // SAFETY: NEON is part of every aarch64 target this builds for; no memory is touched.
    unsafe {
        use std::arch::aarch64::*;
        let m = vdupq_n_f32(std::hint::black_box(0.999_999_9));
        let a = vdupq_n_f32(std::hint::black_box(1e-7));
        let mut acc = [vdupq_n_f32(1.0); CHAINS];
        for _ in 0..iterations {
            for v in acc.iter_mut() {
                *v = vfmaq_f32(a, *v, m);
            }
        }
        (4, vaddvq_f32(acc.iter().fold(vdupq_n_f32(0.0), |s, v| vaddq_f32(s, *v))))
    }
    #[cfg(not(any(
        all(target_arch = "x86_64", any(target_feature = "avx512f", target_feature = "fma")),
        all(target_arch = "aarch64", target_feature = "neon")
    )))]
    {
        // Scalar: what a machine without vector FMA offers.
        let (m, a) = (std::hint::black_box(0.999_999_9f32), std::hint::black_box(1e-7f32));
        let mut acc = [1f32; CHAINS];
        for _ in 0..iterations {
            for v in acc.iter_mut() {
                *v = *v * m + a;
            }
        }
        (1, acc.iter().sum())
    }
}

/// FLOP per second (a multiply-add is two) of all the pool's threads together, best of three
/// rounds of about `seconds / 3` each.
pub fn fma_peak_flops(seconds: f64) -> f64 {
    let lanes = spin(1).0;
    let flop_per_iteration = (2 * CHAINS * lanes) as f64;
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
