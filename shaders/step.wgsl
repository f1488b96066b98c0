// What changes from one forward pass to the next, written once per pass: the bind groups and
// every other uniform are built at load.
struct Step {
    // Tokens in this batch.
    n_tokens: u32,
    // Positions (the last ones of the batch) whose logits are wanted.
    n_logits: u32,
    // Position of the batch's first token: the KV cache already holds p0 tokens.
    p0: u32,
    _pad: u32,
}
