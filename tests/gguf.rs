//! The GGUF reader on files written here byte by byte (every value type, both versions,
//! alignment) and on corrupt ones (every truncation, absurd counts, bad offsets), plus the real
//! model's header when it is present.

mod common;

use clinicbench::gguf::{ByteSource, FileSource, Gguf, MetadataValue, SliceSource};
use clinicbench::quant::GgmlType;
use common::{gguf_string as s, GgufWriter as Writer};

fn sample(version: u32) -> Writer {
    let mut w = Writer::new(version);
    let mut str_arr = vec![];
    str_arr.extend(8u32.to_le_bytes());
    str_arr.extend(2u64.to_le_bytes());
    s(&mut str_arr, "<s>");
    s(&mut str_arr, "▁héllo");
    // An array of arrays of i16.
    let mut nested = vec![];
    nested.extend(9u32.to_le_bytes());
    nested.extend(2u64.to_le_bytes());
    for row in [[1i16, -2], [3, 4]] {
        nested.extend(3u32.to_le_bytes());
        nested.extend(2u64.to_le_bytes());
        for v in row {
            nested.extend(v.to_le_bytes());
        }
    }
    let mut name = vec![];
    s(&mut name, "tiny");
    w.kv("general.architecture", 8, &name)
        .kv("u8", 0, &[200])
        .kv("i8", 1, &[0xff])
        .kv("u16", 2, &60000u16.to_le_bytes())
        .kv("i16", 3, &(-300i16).to_le_bytes())
        .kv("u32", 4, &4_000_000_000u32.to_le_bytes())
        .kv("i32", 5, &(-7i32).to_le_bytes())
        .kv("f32", 6, &1.5f32.to_le_bytes())
        .kv("bool", 7, &[1])
        .kv("u64", 10, &u64::MAX.to_le_bytes())
        .kv("i64", 11, &i64::MIN.to_le_bytes())
        .kv("f64", 12, &0.1f64.to_le_bytes())
        .kv("tokens", 9, &str_arr)
        .kv("nested", 9, &nested);
    let f32_data: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
    w.tensor("a", &[3, 2], 0, f32_data);
    // A Q8_0 tensor: one block = f16 scale 1.0 then 32 int8 values.
    let mut q8 = half::f16::from_f32(1.0).to_le_bytes().to_vec();
    q8.extend((0..32).map(|i| (i as i8 - 16) as u8));
    w.tensor("b", &[32], 8, q8);
    w
}

#[test]
fn reads_every_value_type_in_both_versions() {
    for version in [2, 3] {
        let g = Gguf::open(SliceSource(sample(version).bytes())).unwrap();
        assert_eq!(g.version, version);
        assert_eq!(g.get_str("general.architecture").unwrap(), "tiny");
        assert_eq!(g.get("u8"), Some(&MetadataValue::U8(200)));
        assert_eq!(g.get("i8"), Some(&MetadataValue::I8(-1)));
        assert_eq!(g.get("u16"), Some(&MetadataValue::U16(60000)));
        assert_eq!(g.get("i16"), Some(&MetadataValue::I16(-300)));
        assert_eq!(g.get_u64("u32").unwrap(), 4_000_000_000);
        assert_eq!(g.get("i32"), Some(&MetadataValue::I32(-7)));
        assert_eq!(g.get_f32("f32").unwrap(), 1.5);
        assert!(g.get_bool("bool").unwrap());
        assert_eq!(g.get_u64("u64").unwrap(), u64::MAX);
        assert_eq!(g.get("i64"), Some(&MetadataValue::I64(i64::MIN)));
        assert_eq!(g.get("f64"), Some(&MetadataValue::F64(0.1)));
        let toks: Vec<&str> = g.get_array("tokens").unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(toks, ["<s>", "▁héllo"]);
        let nested = g.get_array("nested").unwrap();
        assert_eq!(nested[1], MetadataValue::Array(vec![MetadataValue::I16(3), MetadataValue::I16(4)]));
        // Metadata keeps file order.
        assert_eq!(g.metadata[1].0, "u8");

        let a = g.tensor("a").unwrap();
        assert_eq!((a.dims.clone(), a.ty, a.rows_cols()), (vec![3, 2], GgmlType::F32, (2, 3)));
        let bytes = g.read_tensor(a).unwrap();
        assert_eq!(f32::from_le_bytes(bytes[20..24].try_into().unwrap()), 5.0);
        let b = g.tensor("b").unwrap();
        assert_eq!(b.offset % 32, 0);
        let q = g.read_tensor(b).unwrap();
        assert_eq!(q.len(), 34);
        assert_eq!(q[2] as i8, -16);
    }
}

#[test]
fn wrong_types_and_missing_keys_name_the_key() {
    let g = Gguf::open(SliceSource(sample(3).bytes())).unwrap();
    let e = g.get_str("u8").unwrap_err().to_string();
    assert!(e.contains("\"u8\"") && e.contains("string"), "{e}");
    let e = g.get_u64("nope").unwrap_err().to_string();
    assert!(e.contains("nope"), "{e}");
    assert!(g.get_u64("i8").is_err(), "a negative value is not an unsigned integer");
}

#[test]
fn custom_alignment_is_honoured() {
    let mut w = sample(3);
    w.alignment = 64;
    w.kv("general.alignment", 4, &64u32.to_le_bytes());
    let bytes = w.bytes();
    let g = Gguf::open(SliceSource(bytes)).unwrap();
    assert_eq!(g.alignment, 64);
    assert_eq!(g.data_offset % 64, 0);
    assert_eq!(g.tensor("b").unwrap().offset, 64);
    let q = g.read_tensor(g.tensor("b").unwrap()).unwrap();
    assert_eq!(q[2] as i8, -16);
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let bytes = sample(3).bytes();
    for len in 0..bytes.len() {
        let r = Gguf::open(SliceSource(&bytes[..len]));
        assert!(r.is_err(), "a file cut at {len} of {} bytes was accepted", bytes.len());
    }
}

#[test]
fn hostile_headers_fail_with_a_message() {
    let good = sample(3).bytes();
    let expect_err = |bytes: Vec<u8>, needle: &str| {
        let e = Gguf::open(SliceSource(bytes)).unwrap_err().to_string();
        assert!(e.contains(needle), "expected {needle:?} in {e:?}");
    };
    // Bad magic, bad version.
    let mut b = good.clone();
    b[0] = b'X';
    expect_err(b, "not a GGUF file");
    let mut b = good.clone();
    b[4] = 9;
    expect_err(b, "version 9");
    // Absurd tensor and metadata counts.
    let mut b = good.clone();
    b[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    expect_err(b, "tensor count");
    let mut b = good.clone();
    b[16..24].copy_from_slice(&(1u64 << 40).to_le_bytes());
    expect_err(b, "metadata count");
    // A string length past the end.
    let mut b = good.clone();
    b[24..32].copy_from_slice(&(1u64 << 50).to_le_bytes());
    expect_err(b, "metadata key #0");
    // An unknown value type.
    let mut w = Writer::new(3);
    w.kv("k", 99, &[]);
    expect_err(w.bytes(), "unknown value type 99");
    // Invalid UTF-8 in a key.
    let mut w = Writer::new(3);
    w.kv("k\u{e9}", 0, &[1]);
    let mut b = w.bytes();
    let at = b.windows(2).position(|x| x == [0xc3, 0xa9]).unwrap();
    b[at] = 0xff;
    expect_err(b, "UTF-8");
    // Tensor data past the end of the file.
    let mut w = Writer::new(3);
    w.tensor("big", &[1024, 1024], 0, vec![0; 64]);
    let mut b = w.bytes();
    b.truncate(b.len() - 32);
    expect_err(b, "big");
    // Unknown tensor type, zero dimension, too many dimensions, huge dimensions.
    let mut w = Writer::new(3);
    w.tensor("t", &[4], 77, vec![0; 16]);
    expect_err(w.bytes(), "unknown ggml type id 77");
    let mut w = Writer::new(3);
    w.tensor("t", &[4, 0], 0, vec![0; 16]);
    expect_err(w.bytes(), "zero dimension");
    let mut w = Writer::new(3);
    w.tensor("t", &[1, 1, 1, 1, 1], 0, vec![0; 4]);
    expect_err(w.bytes(), "rank 5");
    let mut w = Writer::new(3);
    w.tensor("t", &[1 << 40, 1 << 40], 0, vec![0; 4]);
    expect_err(w.bytes(), "\"t\"");
    // A Q4_K row that is not a whole number of blocks.
    let mut w = Writer::new(3);
    w.tensor("t", &[100], 12, vec![0; 144]);
    expect_err(w.bytes(), "block size");
    // Duplicate names.
    let mut w = Writer::new(3);
    w.kv("k", 0, &[1]).kv("k", 0, &[2]);
    expect_err(w.bytes(), "twice");
    // Arrays nested too deep.
    let mut deep = vec![];
    for _ in 0..20 {
        deep.extend(9u32.to_le_bytes());
        deep.extend(1u64.to_le_bytes());
    }
    deep.extend(0u32.to_le_bytes());
    deep.extend(0u64.to_le_bytes());
    let mut w = Writer::new(3);
    w.kv("deep", 9, &deep[..]);
    expect_err(w.bytes(), "nested");
}

/// Metadata that would take far more memory than the file: a u8 array's items take 32 bytes
/// each once read, and a string as long as the file allows may still be absurd. Both are refused
/// before anything that size is allocated; a vocabulary-sized array still reads.
#[test]
fn metadata_too_large_for_memory_is_refused_before_reading() {
    use clinicbench::gguf::{MAX_METADATA_ITEMS, MAX_METADATA_STRING};
    let u8_array = |n: u64| {
        let mut v = 0u32.to_le_bytes().to_vec();
        v.extend(n.to_le_bytes());
        v.extend(std::iter::repeat_n(7u8, n as usize));
        v
    };
    // Two arrays that are each allowed but together pass the budget.
    let half = MAX_METADATA_ITEMS / 2 + 1;
    let mut w = Writer::new(3);
    w.kv("a", 9, &u8_array(half)).kv("b", 9, &u8_array(half));
    let e = Gguf::open(SliceSource(w.bytes())).unwrap_err().to_string();
    assert!(e.contains("array \"b\"") && e.contains("array items in all"), "{e}");
    let mut w = Writer::new(3);
    w.kv("a", 9, &u8_array(300_000)).kv("b", 9, &u8_array(300_000));
    assert!(Gguf::open(SliceSource(w.bytes())).is_ok(), "a vocabulary-sized header reads");
    let mut long = vec![];
    s(&mut long, &"x".repeat(MAX_METADATA_STRING as usize + 1));
    let mut w = Writer::new(3);
    w.kv("tokenizer.chat_template", 8, &long);
    let e = Gguf::open(SliceSource(w.bytes())).unwrap_err().to_string();
    assert!(e.contains("tokenizer.chat_template") && e.contains("bytes"), "{e}");
}

#[test]
fn missing_file_is_a_clear_error() {
    let e = FileSource::open("/nonexistent/model.gguf").err().unwrap();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn real_model_header() {
    let Some(path) = common::real_model() else { return };
    let g = Gguf::open(FileSource::open(path).unwrap()).unwrap();
    assert_eq!(g.version, 3);
    assert_eq!(g.tensors.len(), 236);
    assert_eq!(g.metadata.len(), 33);
    assert_eq!(g.get_str("general.architecture").unwrap(), "gemma3");
    assert_eq!(g.get_array("tokenizer.ggml.tokens").unwrap().len(), 262144);
    let embd = g.tensor("token_embd.weight").unwrap();
    assert_eq!((embd.ty, embd.dims.clone()), (GgmlType::Q8_0, vec![640, 262144]));
    // The last tensor ends inside the file.
    let end = g.tensors.iter().map(|t| g.data_offset + t.offset + t.n_bytes()).max().unwrap();
    assert!(end <= g.source().len());
}

/// A tiny llama-architecture model (n_embd 32, one layer, four tokens), F32 weights.
fn tiny_llama(extra: Option<&str>) -> Vec<u8> {
    let mut w = Writer::new(3);
    let mut arch = vec![];
    s(&mut arch, "llama");
    let mut tokens = vec![];
    tokens.extend(8u32.to_le_bytes());
    tokens.extend(4u64.to_le_bytes());
    for t in ["<unk>", "<s>", "</s>", "a"] {
        s(&mut tokens, t);
    }
    w.kv("general.architecture", 8, &arch)
        .kv("llama.embedding_length", 4, &32u32.to_le_bytes())
        .kv("llama.block_count", 4, &1u32.to_le_bytes())
        .kv("llama.feed_forward_length", 4, &32u32.to_le_bytes())
        .kv("llama.attention.head_count", 4, &2u32.to_le_bytes())
        .kv("tokenizer.ggml.tokens", 9, &tokens);
    let f32s = |n: usize| (0..n).flat_map(|i| ((i % 7) as f32 * 0.01).to_le_bytes()).collect::<Vec<u8>>();
    w.tensor("token_embd.weight", &[32, 4], 0, f32s(128)).tensor("output_norm.weight", &[32], 0, f32s(32));
    for name in ["attn_norm", "ffn_norm"] {
        w.tensor(&format!("blk.0.{name}.weight"), &[32], 0, f32s(32));
    }
    for name in ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"] {
        w.tensor(&format!("blk.0.{name}.weight"), &[32, 32], 0, f32s(1024));
    }
    if let Some(name) = extra {
        w.tensor(name, &[32], 0, f32s(32));
    }
    w.bytes()
}

#[test]
fn tensors_the_decoder_would_not_use_are_refused() {
    use clinicbench::backend::cpu::CpuBackend;
    let g = Gguf::open(SliceSource(tiny_llama(None))).unwrap();
    let mut b = CpuBackend::load(&g, 8).unwrap();
    assert_eq!(b.forward_sync(&[1, 3], 1).unwrap().len(), 4, "the tiny model runs");
    // A bias llama.cpp would add is not silently dropped.
    let g = Gguf::open(SliceSource(tiny_llama(Some("blk.0.attn_output.bias")))).unwrap();
    let e = CpuBackend::load(&g, 8).err().unwrap().to_string();
    assert!(e.contains("blk.0.attn_output.bias") && e.contains("does not use"), "{e}");
}
