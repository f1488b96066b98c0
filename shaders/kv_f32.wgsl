// The KV cache's element type: f32, exact against the CPU backend.
alias KvElement = f32;
