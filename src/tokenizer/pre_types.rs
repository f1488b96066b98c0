//! What a `tokenizer.ggml.pre` name selects in llama.cpp: the list of pre-tokenizer regexes
//! (the `llm_tokenizer_bpe` constructor) and the flags `llama_vocab::impl::load` changes with it
//! (`clean_spaces`, `ignore_merges`, `add_bos`, no default BOS), for llama-cpp-python 0.3.36's
//! llama.cpp. The regexes are llama.cpp's exact strings: [`super::pretokenize`] recognises the
//! ones llama.cpp runs with hand-written scanners by comparing against them.

use super::pretokenize::{GPT2_PATTERN, LLAMA3, QWEN2, QWEN35};

/// What a `tokenizer.ggml.pre` name selects in llama.cpp: regexes and flag changes.
pub(crate) struct PreSpec {
    pub patterns: &'static [&'static str],
    pub clean_spaces: bool,
    pub ignore_merges: bool,
    pub add_bos: bool,
    pub no_default_bos: bool,
}

const DEFAULT_PATTERNS: &[&str] = &[r"[\p{P}\$\+<=>\^~\|]+", GPT2_PATTERN, r"\p{N}+", "[0-9][0-9][0-9]"];
const LLAMA3_PATTERNS: &[&str] = &[LLAMA3];
const QWEN2_PATTERNS: &[&str] = &[QWEN2];
const QWEN35_PATTERNS: &[&str] = &[QWEN35];
const GPT2_PATTERNS: &[&str] = &[GPT2_PATTERN];
const STARCODER_PATTERNS: &[&str] = &[r"\p{N}", GPT2_PATTERN];
const FALCON_PATTERNS: &[&str] = &[r"[\p{P}\$\+<=>\^~\|`]+", GPT2_PATTERN, "[0-9][0-9][0-9]"];
// Patterns with non-ASCII characters are written with escapes: they must be exactly llama.cpp's
// codepoints, and an editor's Unicode normalization would silently change some (U+1FD3 -> U+0390).
const DEEPSEEK_LLM_PATTERNS: &[&str] = &[
    "[\r\n]",
    "\\s?[A-Za-z\u{B5}\u{C0}-\u{D6}\u{D8}-\u{F6}\u{F8}-\u{1BA}\u{1BC}-\u{1BF}\u{1C4}-\u{293}\u{295}-\u{2AF}\u{370}-\u{373}\u{376}\u{377}\u{37B}-\u{37D}\u{37F}\u{386}\u{388}-\u{38A}\u{38C}\u{38E}-\u{3A1}\u{3A3}-\u{3F5}\u{3F7}-\u{481}\u{48A}-\u{52F}\u{531}-\u{556}\u{10A0}-\u{10C5}\u{13A0}-\u{13F5}\u{13F8}-\u{13FD}\u{1C90}-\u{1CBA}\u{1CBD}-\u{1CBF}\u{1D00}-\u{1D2B}\u{1D6B}-\u{1D77}\u{1D79}-\u{1D9A}\u{1E00}-\u{1F15}\u{1F18}-\u{1F1D}\u{1F20}-\u{1F45}\u{1F48}-\u{1F4D}\u{1F50}-\u{1F57}\u{1F59}\u{1F5B}\u{1F5D}\u{1F5F}-\u{1F7D}\u{1F80}-\u{1FB4}\u{1FB6}-\u{1FBC}\u{1FBE}\u{1FC2}-\u{1FC4}\u{1FC6}-\u{1FCC}\u{1FD0}-\u{1FD3}\u{1FD6}-\u{1FDB}\u{1FE0}-\u{1FEC}\u{1FF2}-\u{1FF4}\u{1FF6}-\u{1FFC}\u{2102}\u{2107}\u{210A}-\u{2113}\u{2115}\u{2119}-\u{211D}\u{2124}\u{2126}\u{2128}\u{212A}-\u{212D}\u{212F}-\u{2134}\u{2139}\u{213C}-\u{213F}\u{2145}-\u{2149}\u{214E}\u{2183}\u{2184}\u{2C00}-\u{2C7B}\u{2C7E}-\u{2CE4}\u{2CEB}-\u{2CEE}\u{2CF2}\u{2CF3}\u{A640}-\u{A66D}\u{A680}-\u{A69B}\u{A722}-\u{A76F}\u{A771}-\u{A787}\u{A78B}-\u{A78E}\u{AB70}-\u{ABBF}\u{FB00}-\u{FB06}\u{FB13}-\u{FB17}\u{FF21}-\u{FF3A}\u{FF41}-\u{FF5A}\u{10400}-\u{1044F}\u{104B0}-\u{104D3}\u{104D8}-\u{104FB}\u{10C80}-\u{10CB2}\u{10CC0}-\u{10CF2}\u{118A0}-\u{118DF}\u{1E900}-\u{1E943}]+",
    "\\s?[!-/:-~\u{FF01}-\u{FF0F}\u{FF1A}-\u{FF5E}\u{2018}-\u{201F}\u{3000}-\u{3002}]+",
    "\\s+$",
    "[\u{4E00}-\u{9FA5}\u{800}-\u{4E00}\u{AC00}-\u{D7FF}]+",
    "\\p{N}+",
];
const DEEPSEEK_CODER_PATTERNS: &[&str] = &[
    "[\r\n]",
    "\\s?\\p{L}+",
    "\\s?\\p{P}+",
    "[\u{4E00}-\u{9FA5}\u{800}-\u{4E00}\u{AC00}-\u{D7FF}]+",
    "\\p{N}",
];
const DEEPSEEK3_PATTERNS: &[&str] = &[
    "\\p{N}{1,3}",
    "[\u{4E00}-\u{9FA5}\u{3040}-\u{309F}\u{30A0}-\u{30FF}]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
];
const PORO_PATTERNS: &[&str] = &[" ?[^(\\s|.,!?\u{2026}\u{3002}\u{FF0C}\u{3001}\u{964}\u{6D4}\u{60C})]+"];
const VIKING_PATTERNS: &[&str] = &[
    " ?[^(\\s|.,!?\u{2026}\u{3002}\u{FF0C}\u{3001}\u{964}\u{6D4}\u{60C})]+",
    "\\p{N}",
];
const TEKKEN_PATTERNS: &[&str] = &[
    r"[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
];
const GPT4O_PATTERNS: &[&str] = &[
    r"[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
];
const BAILINGMOE_PATTERNS: &[&str] = &[
    r"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+",
];
const SEED_CODER_PATTERNS: &[&str] = &[
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+",
];
const UFAKZEKA_PATTERNS: &[&str] =
    &[r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"];

/// `tokenizer.ggml.pre` -> llama.cpp's settings (`llama_vocab::impl::load` and the
/// `llm_tokenizer_bpe` constructor). Pre-tokenizers with custom code paths this crate does not
/// port (Kimi-K2, AFMoE, Gemma 4, SuperBPE, ...) are rejected.
pub(crate) fn pre_spec(name: &str) -> Option<PreSpec> {
    let s = |patterns, clean_spaces| PreSpec {
        patterns,
        clean_spaces,
        ignore_merges: false,
        add_bos: false,
        no_default_bos: false,
    };
    Some(match name {
        "default" => s(DEFAULT_PATTERNS, true),
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral" | "midm-2.0" | "lfm2"
        | "jina-v5-nano" => PreSpec {
            ignore_merges: true,
            add_bos: true,
            ..s(LLAMA3_PATTERNS, true)
        },
        "deepseek-llm" => s(DEEPSEEK_LLM_PATTERNS, false),
        "deepseek-coder" => s(DEEPSEEK_CODER_PATTERNS, false),
        "deepseek-v3" | "hunyuan-dense" | "hy_v4" | "joyai-llm" => s(DEEPSEEK3_PATTERNS, false),
        "falcon" => s(FALCON_PATTERNS, true),
        "mpt" | "olmo" | "jais" | "exaone4" => s(GPT2_PATTERNS, true),
        "gpt-2" | "phi-2" | "jina-es" | "jina-de" | "gigachat" | "jina-v2-es" | "jina-v2-de" | "a.x-4.0" | "mellum"
        | "modern-bert" => s(GPT2_PATTERNS, true),
        "trillion" | "granite-docling" => s(GPT2_PATTERNS, false),
        "starcoder" | "refact" | "codeshell" | "exaone" | "minerva-7b" | "mellum2" => s(STARCODER_PATTERNS, true),
        "command-r" | "smollm" => s(STARCODER_PATTERNS, false),
        "qwen2" | "deepseek-r1-qwen" | "kormo" | "f2llmv2" | "hunyuan" | "solar-open" | "grok-2" => {
            s(QWEN2_PATTERNS, false)
        }
        "stablelm2" | "megrez" => s(QWEN2_PATTERNS, true),
        "qwen35" => s(QWEN35_PATTERNS, false),
        "dbrx" | "smaug-bpe" => s(LLAMA3_PATTERNS, true),
        "glm4" | "chatglm-bpe" => PreSpec {
            no_default_bos: true,
            ..s(LLAMA3_PATTERNS, true)
        },
        "poro-chat" => s(PORO_PATTERNS, false),
        "bloom" | "gpt3-finnish" => s(PORO_PATTERNS, true),
        "viking" => s(VIKING_PATTERNS, false),
        "tekken" => PreSpec {
            ignore_merges: true,
            add_bos: true,
            ..s(TEKKEN_PATTERNS, false)
        },
        "gpt-4o" | "llama4" | "kanana2" | "talkie" | "minimax-m2" => s(GPT4O_PATTERNS, false),
        "bailingmoe" | "bailingmoe2" | "llada-moe" => s(BAILINGMOE_PATTERNS, false),
        "seed-coder" => s(SEED_CODER_PATTERNS, false),
        "ufakzeka" => s(UFAKZEKA_PATTERNS, false),
        _ => return None,
    })
}
