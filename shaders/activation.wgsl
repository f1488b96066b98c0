// The gated feed-forward's activations: SiLU (SwiGLU) and tanh-approximated GELU (GeGLU, Gemma).

fn gelu(x: f32) -> f32 {
    // tanh is clamped: some drivers return NaN for tanh of large arguments, and tanh(10) is
    // already 1 in f32.
    let u = clamp(0.7978846 * x * (1.0 + 0.044715 * x * x), -10.0, 10.0);
    return 0.5 * x * (1.0 + tanh(u));
}

fn silu(x: f32) -> f32 {
    return x / (1.0 + exp(-x));
}
