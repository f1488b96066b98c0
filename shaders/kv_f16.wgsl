// The KV cache's element type: f16 (needs the device's shader-f16), half the memory and half
// attention's reads; llama.cpp's default cache type.
enable f16;
alias KvElement = f16;
