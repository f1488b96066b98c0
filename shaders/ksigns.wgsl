// ksigns_iq2xs, four sign bytes a word (written by scripts/make_iq_grids.py from PyPI gguf's copy of ggml-common.h; do not edit).
// A module-scope private array: each invocation initializes its copy once (a `const`
// array indexed at run time would be copied at every use).
var<private> KSIGNS: array<u32, 32> = array<u32, 32>(
    0x03828100u, 0x87060584u, 0x8b0a0988u, 0x0f8e8d0cu, 0x93121190u, 0x17969514u, 0x1b9a9918u, 0x9f1e1d9cu,
    0xa32221a0u, 0x27a6a524u, 0x2baaa928u, 0xaf2e2dacu, 0x33b2b130u, 0xb73635b4u, 0xbb3a39b8u, 0x3fbebd3cu,
    0xc34241c0u, 0x47c6c544u, 0x4bcac948u, 0xcf4e4dccu, 0x53d2d150u, 0xd75655d4u, 0xdb5a59d8u, 0x5fdedd5cu,
    0x63e2e160u, 0xe76665e4u, 0xeb6a69e8u, 0x6feeed6cu, 0xf37271f0u, 0x77f6f574u, 0x7bfaf978u, 0xff7e7dfcu,
);

// The eight signs of a 7-bit index (bit j set: value j negative).
fn ksigns(i: u32) -> u32 {
    return (KSIGNS[i / 4u] >> (8u * (i % 4u))) & 0xffu;
}
