//! The GGUF container, as llama.cpp writes it (versions 2 and 3).
//!
//! Owns the header, the metadata key-value store and the tensor index, and reads tensor bytes on
//! demand from a [`ByteSource`] (a file, a byte slice, or in the browser a `File`). The whole file
//! is never read at once: the header is parsed through a small buffered reader, and each tensor is
//! fetched by offset when a backend uploads it. It knows nothing of architectures.
//!
//! Layout (ggml/docs/gguf.md): magic `GGUF`, u32 version, u64 tensor count, u64 metadata count,
//! metadata `(string key, u32 type, value)*`, tensor infos `(string name, u32 n_dims, u64 dims[n],
//! u32 type, u64 offset)*`, padding to `general.alignment` (default 32), tensor data.
//!
//! Every count and length read from the file is checked against the bytes that remain before
//! anything is allocated, so a corrupt or hostile header fails fast in bounded memory.

mod metadata;
mod source;
pub mod split;

pub use metadata::{MetadataValue, MetadataValueType};
pub use source::{ByteSource, FileSource, SliceSource};
pub use split::SplitSource;

use crate::quant::GgmlType;
use std::collections::HashMap;
use std::fmt;

/// The four bytes every GGUF file starts with.
pub const MAGIC: [u8; 4] = *b"GGUF";
/// Tensor data alignment when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// Tensors have at most this many dimensions in ggml.
pub const MAX_DIMS: u32 = 4;

/// What can go wrong reading a GGUF file. Every variant names where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GgufError {
    #[error("I/O error reading the model: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a GGUF file: the first bytes are {found:02x?}, expected \"GGUF\"")]
    BadMagic { found: [u8; 4] },
    #[error("unsupported GGUF version {0} (2 and 3 are supported)")]
    UnsupportedVersion(u32),
    #[error("the file ends early: {what} at byte {offset} needs {needed} bytes, the file has {len}")]
    Truncated { what: String, offset: u64, needed: u64, len: u64 },
    #[error("{what} claims {count} entries at byte {offset}, more than the {remaining} bytes left could hold")]
    AbsurdCount { what: String, count: u64, offset: u64, remaining: u64 },
    #[error("{what} at byte {offset} holds {size} {unit}, more than the {limit} a model's metadata may (refused before reading it)")]
    TooLarge { what: String, offset: u64, size: u64, unit: &'static str, limit: u64 },
    #[error("metadata key {key:?}: unknown value type {type_id}")]
    UnknownValueType { key: String, type_id: u32 },
    #[error("{what} at byte {offset} is not valid UTF-8")]
    InvalidUtf8 { what: String, offset: u64 },
    #[error("metadata key {key:?} appears twice")]
    DuplicateKey { key: String },
    #[error("tensor {name:?}: {problem}")]
    BadTensor { name: String, problem: String },
    #[error("tensor {name:?} appears twice")]
    DuplicateTensor { name: String },
    #[error("tensor {name:?} has unknown ggml type id {type_id}")]
    UnknownTensorType { name: String, type_id: u32 },
    #[error("missing metadata key {0:?}")]
    MissingKey(String),
    #[error("metadata key {key:?} is {found}, expected {expected}")]
    WrongType { key: String, expected: &'static str, found: String },
    #[error("no tensor named {0:?} in the model")]
    MissingTensor(String),
    #[error("general.alignment is {0}; it must be a non-zero multiple of 8")]
    BadAlignment(u64),
    /// The parts of a split model do not make one model (count, order, a part of another).
    #[error("split model: {0}")]
    Split(String),
}

/// One entry of the tensor index.
#[derive(Debug, Clone)]
pub struct TensorInfo {
    pub name: String,
    /// ggml order: `dims[0]` is the row length (contiguous), `dims[1]` the number of rows.
    pub dims: Vec<u64>,
    pub ty: GgmlType,
    /// Offset of the tensor's data from the start of the data section.
    pub offset: u64,
}

impl TensorInfo {
    /// Number of elements.
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().product()
    }
    /// Bytes the tensor occupies in the file.
    pub fn n_bytes(&self) -> u64 {
        let bs = self.ty.block_size() as u64;
        self.n_elements() / bs * self.ty.block_bytes() as u64
    }
    /// Row length (elements) and number of rows, treating every dimension past the first as rows.
    pub fn rows_cols(&self) -> (usize, usize) {
        let cols = self.dims.first().copied().unwrap_or(1) as usize;
        let rows = self.dims.iter().skip(1).product::<u64>() as usize;
        (rows, cols)
    }
}

/// A parsed GGUF header: metadata and tensor index, plus where the data section starts.
pub struct Gguf<S: ByteSource> {
    pub version: u32,
    /// Metadata in file order.
    pub metadata: Vec<(String, MetadataValue)>,
    index: HashMap<String, usize>,
    pub tensors: Vec<TensorInfo>,
    tensor_index: HashMap<String, usize>,
    pub alignment: u64,
    /// Absolute file offset of the data section.
    pub data_offset: u64,
    source: S,
}

impl<S: ByteSource> fmt::Debug for Gguf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gguf")
            .field("version", &self.version)
            .field("metadata", &self.metadata.len())
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

/// The longest metadata string: chat templates and token texts are far shorter.
pub const MAX_METADATA_STRING: u64 = 16 << 20;
/// The most array items in a file's metadata together: a vocabulary of a million tokens with its
/// scores, types and merges is a few million. An item takes 32 bytes in memory however few it
/// takes in the file, so the file's size alone does not bound what a header allocates.
pub const MAX_METADATA_ITEMS: u64 = 8 << 20;

/// Buffered little-endian reader over a [`ByteSource`] that knows how many bytes remain.
struct HeaderReader<'a, S: ByteSource> {
    source: &'a S,
    len: u64,
    pos: u64,
    buf: Vec<u8>,
    buf_start: u64,
    /// Array items read so far (against [`MAX_METADATA_ITEMS`]).
    metadata_items: u64,
}

const HEADER_CHUNK: usize = 1 << 16;

impl<'a, S: ByteSource> HeaderReader<'a, S> {
    fn new(source: &'a S) -> Self {
        HeaderReader { source, len: source.len(), pos: 0, buf: Vec::new(), buf_start: 0, metadata_items: 0 }
    }

    fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    fn bytes(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<&[u8], GgufError> {
        if n > self.remaining() {
            return Err(GgufError::Truncated { what: what(), offset: self.pos, needed: n, len: self.len });
        }
        let buf_end = self.buf_start + self.buf.len() as u64;
        if self.pos < self.buf_start || self.pos + n > buf_end {
            let want = (n as usize).max(HEADER_CHUNK).min(self.remaining() as usize);
            self.buf.resize(want, 0);
            self.source.read_at(self.pos, &mut self.buf)?;
            self.buf_start = self.pos;
        }
        let start = (self.pos - self.buf_start) as usize;
        self.pos += n;
        Ok(&self.buf[start..start + n as usize])
    }

    fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N], GgufError> {
        let b = self.bytes(N as u64, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Ok(a)
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// Counts `n` more metadata array items against [`MAX_METADATA_ITEMS`].
    fn metadata_items(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<(), GgufError> {
        self.metadata_items = self.metadata_items.saturating_add(n);
        if self.metadata_items > MAX_METADATA_ITEMS {
            return Err(GgufError::TooLarge { what: what(), offset: self.pos, size: self.metadata_items, unit: "array items in all", limit: MAX_METADATA_ITEMS });
        }
        Ok(())
    }

    /// A count of items each at least `min_item_bytes` long, checked against what is left.
    fn count(&mut self, min_item_bytes: u64, what: &dyn Fn() -> String) -> Result<u64, GgufError> {
        let offset = self.pos;
        let count = self.u64(what)?;
        let remaining = self.remaining();
        if count.saturating_mul(min_item_bytes) > remaining {
            return Err(GgufError::AbsurdCount { what: what(), count, offset, remaining });
        }
        Ok(count)
    }

    fn string(&mut self, what: &dyn Fn() -> String) -> Result<String, GgufError> {
        let len = self.count(1, what)?;
        let offset = self.pos;
        if len > MAX_METADATA_STRING {
            return Err(GgufError::TooLarge { what: what(), offset, size: len, unit: "bytes", limit: MAX_METADATA_STRING });
        }
        let bytes = self.bytes(len, what)?.to_vec();
        String::from_utf8(bytes).map_err(|_| GgufError::InvalidUtf8 { what: what(), offset })
    }
}

impl<S: ByteSource> Gguf<S> {
    /// Parses the header of a GGUF file. Reads only the header, not the tensor data.
    pub fn open(source: S) -> Result<Self, GgufError> {
        let mut r = HeaderReader::new(&source);
        let magic: [u8; 4] = r.array(&|| "the magic number".into())?;
        if magic != MAGIC {
            return Err(GgufError::BadMagic { found: magic });
        }
        let version = r.u32(&|| "the version".into())?;
        if version != 2 && version != 3 {
            return Err(GgufError::UnsupportedVersion(version));
        }
        // A tensor info is at least 8 (name len) + 4 + 8 + 4 + 8 bytes; a key-value at least 8 + 4 + 1.
        let n_tensors = r.count(32, &|| "the tensor count".into())?;
        let n_kv = r.count(13, &|| "the metadata count".into())?;

        let mut metadata = Vec::with_capacity(n_kv as usize);
        let mut index = HashMap::with_capacity(n_kv as usize);
        for i in 0..n_kv {
            let key = r.string(&|| format!("metadata key #{i}"))?;
            let ty = r.u32(&|| format!("the type of metadata key {key:?}"))?;
            let value = metadata::read_value(&mut r, &key, ty, 0)?;
            if index.insert(key.clone(), metadata.len()).is_some() {
                return Err(GgufError::DuplicateKey { key });
            }
            metadata.push((key, value));
        }

        let mut tensors = Vec::with_capacity(n_tensors as usize);
        let mut tensor_index = HashMap::with_capacity(n_tensors as usize);
        for i in 0..n_tensors {
            let name = r.string(&|| format!("the name of tensor #{i}"))?;
            let n_dims = r.u32(&|| format!("the rank of tensor {name:?}"))?;
            if n_dims == 0 || n_dims > MAX_DIMS {
                return Err(GgufError::BadTensor { name, problem: format!("rank {n_dims} (1 to {MAX_DIMS} allowed)") });
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for d in 0..n_dims {
                dims.push(r.u64(&|| format!("dimension {d} of tensor {name:?}"))?);
            }
            let type_id = r.u32(&|| format!("the type of tensor {name:?}"))?;
            let ty = GgmlType::from_id(type_id)
                .ok_or_else(|| GgufError::UnknownTensorType { name: name.clone(), type_id })?;
            let offset = r.u64(&|| format!("the offset of tensor {name:?}"))?;
            if tensor_index.insert(name.clone(), tensors.len()).is_some() {
                return Err(GgufError::DuplicateTensor { name });
            }
            tensors.push(TensorInfo { name, dims, ty, offset });
        }

        let alignment = match index.get("general.alignment").map(|&i| &metadata[i].1) {
            None => DEFAULT_ALIGNMENT,
            Some(v) => {
                let a = v.as_u64().ok_or_else(|| GgufError::WrongType {
                    key: "general.alignment".into(),
                    expected: "an unsigned integer",
                    found: v.type_name().into(),
                })?;
                if a == 0 || a % 8 != 0 || a > 1 << 20 {
                    return Err(GgufError::BadAlignment(a));
                }
                a
            }
        };
        let data_offset = r.pos.div_ceil(alignment) * alignment;
        let file_len = source.len();
        let data_len = file_len.saturating_sub(data_offset);

        for t in &tensors {
            validate_tensor(t, alignment, data_len)?;
        }

        Ok(Gguf { version, metadata, index, tensors, tensor_index, alignment, data_offset, source })
    }

    /// The value of a metadata key, if present.
    pub fn get(&self, key: &str) -> Option<&MetadataValue> {
        self.index.get(key).map(|&i| &self.metadata[i].1)
    }

    /// The value of a metadata key, or an error naming the missing key.
    pub fn require(&self, key: &str) -> Result<&MetadataValue, GgufError> {
        self.get(key).ok_or_else(|| GgufError::MissingKey(key.to_string()))
    }

    /// A string value, or an error naming the key.
    pub fn get_str(&self, key: &str) -> Result<&str, GgufError> {
        let v = self.require(key)?;
        v.as_str().ok_or_else(|| wrong_type(key, "a string", v))
    }

    /// An unsigned integer value of any width, or an error naming the key.
    pub fn get_u64(&self, key: &str) -> Result<u64, GgufError> {
        let v = self.require(key)?;
        v.as_u64().ok_or_else(|| wrong_type(key, "an unsigned integer", v))
    }

    /// A float value (any float or integer type), or an error naming the key.
    pub fn get_f32(&self, key: &str) -> Result<f32, GgufError> {
        let v = self.require(key)?;
        v.as_f64().map(|x| x as f32).ok_or_else(|| wrong_type(key, "a number", v))
    }

    /// A boolean value, or an error naming the key.
    pub fn get_bool(&self, key: &str) -> Result<bool, GgufError> {
        let v = self.require(key)?;
        v.as_bool().ok_or_else(|| wrong_type(key, "a boolean", v))
    }

    /// An array value, or an error naming the key.
    pub fn get_array(&self, key: &str) -> Result<&[MetadataValue], GgufError> {
        let v = self.require(key)?;
        v.as_array().ok_or_else(|| wrong_type(key, "an array", v))
    }

    /// The tensor index entry for `name`, if present.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }

    /// Reads a tensor's bytes (in its stored block format) into `dst`, which must be exactly
    /// [`TensorInfo::n_bytes`] long.
    pub fn read_tensor_into(&self, info: &TensorInfo, dst: &mut [u8]) -> Result<(), GgufError> {
        if dst.len() as u64 != info.n_bytes() {
            return Err(GgufError::BadTensor {
                name: info.name.clone(),
                problem: format!("read into a {}-byte buffer, the tensor has {}", dst.len(), info.n_bytes()),
            });
        }
        self.source.read_at(self.data_offset + info.offset, dst)?;
        Ok(())
    }

    /// Reads a tensor's bytes into a new vector.
    pub fn read_tensor(&self, info: &TensorInfo) -> Result<Vec<u8>, GgufError> {
        let mut v = vec![0u8; info.n_bytes() as usize];
        self.read_tensor_into(info, &mut v)?;
        Ok(v)
    }

    /// Total bytes of tensor data.
    pub fn tensor_bytes(&self) -> u64 {
        self.tensors.iter().map(|t| t.n_bytes()).sum()
    }

    /// The byte source the file is read from.
    pub fn source(&self) -> &S {
        &self.source
    }
}

fn wrong_type(key: &str, expected: &'static str, v: &MetadataValue) -> GgufError {
    GgufError::WrongType { key: key.to_string(), expected, found: v.type_name().to_string() }
}

fn validate_tensor(t: &TensorInfo, alignment: u64, data_len: u64) -> Result<(), GgufError> {
    let bad = |problem: String| GgufError::BadTensor { name: t.name.clone(), problem };
    if !t.ty.is_supported() {
        return Err(bad(format!("quantization type {} is not supported", t.ty.name())));
    }
    let mut n: u64 = 1;
    for &d in &t.dims {
        if d == 0 {
            return Err(bad(format!("a zero dimension in {:?}", t.dims)));
        }
        n = n.checked_mul(d).ok_or_else(|| bad(format!("dimensions {:?} overflow", t.dims)))?;
    }
    if n > data_len.saturating_mul(8) {
        return Err(bad(format!("{n} elements cannot fit in {data_len} bytes of tensor data")));
    }
    let bs = t.ty.block_size() as u64;
    if !t.dims[0].is_multiple_of(bs) {
        return Err(bad(format!("row length {} is not a multiple of {}'s block size {bs}", t.dims[0], t.ty.name())));
    }
    if !t.offset.is_multiple_of(alignment) {
        return Err(bad(format!("data offset {} is not aligned to {alignment}", t.offset)));
    }
    let end = t.offset.checked_add(t.n_bytes());
    if end.is_none_or(|e| e > data_len) {
        return Err(bad(format!(
            "data at offset {} + {} bytes runs past the end of the file ({} bytes of tensor data)",
            t.offset,
            t.n_bytes(),
            data_len
        )));
    }
    Ok(())
}
