//! GGUF metadata values: the thirteen value types, arrays of any of them (nested too).

use super::{ByteSource, GgufError, HeaderReader};

/// Arrays nest at most this deep; deeper is treated as a corrupt file rather than recursed into.
const MAX_ARRAY_DEPTH: u32 = 8;

/// The type tags of GGUF metadata values (`gguf_type` in ggml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum MetadataValueType {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
}

impl MetadataValueType {
    fn from_id(id: u32) -> Option<Self> {
        use MetadataValueType::*;
        Some(match id {
            0 => U8,
            1 => I8,
            2 => U16,
            3 => I16,
            4 => U32,
            5 => I32,
            6 => F32,
            7 => Bool,
            8 => String,
            9 => Array,
            10 => U64,
            11 => I64,
            12 => F64,
            _ => return None,
        })
    }

    /// The fewest bytes one value of this type takes in the file (used to bound counts).
    fn min_bytes(self) -> u64 {
        use MetadataValueType::*;
        match self {
            U8 | I8 | Bool => 1,
            U16 | I16 => 2,
            U32 | I32 | F32 => 4,
            U64 | I64 | F64 | String => 8,
            Array => 12,
        }
    }
}

/// One metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    Array(Vec<MetadataValue>),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl MetadataValue {
    /// The GGUF type name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            MetadataValue::U8(_) => "u8",
            MetadataValue::I8(_) => "i8",
            MetadataValue::U16(_) => "u16",
            MetadataValue::I16(_) => "i16",
            MetadataValue::U32(_) => "u32",
            MetadataValue::I32(_) => "i32",
            MetadataValue::F32(_) => "f32",
            MetadataValue::Bool(_) => "bool",
            MetadataValue::String(_) => "string",
            MetadataValue::Array(_) => "array",
            MetadataValue::U64(_) => "u64",
            MetadataValue::I64(_) => "i64",
            MetadataValue::F64(_) => "f64",
        }
    }

    /// Any non-negative integer as u64.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            MetadataValue::U8(v) => Some(v as u64),
            MetadataValue::U16(v) => Some(v as u64),
            MetadataValue::U32(v) => Some(v as u64),
            MetadataValue::U64(v) => Some(v),
            MetadataValue::I8(v) => u64::try_from(v).ok(),
            MetadataValue::I16(v) => u64::try_from(v).ok(),
            MetadataValue::I32(v) => u64::try_from(v).ok(),
            MetadataValue::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// Any integer as i64.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            MetadataValue::I8(v) => Some(v as i64),
            MetadataValue::I16(v) => Some(v as i64),
            MetadataValue::I32(v) => Some(v as i64),
            MetadataValue::I64(v) => Some(v),
            _ => self.as_u64().and_then(|v| i64::try_from(v).ok()),
        }
    }

    /// Any number as f64.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            MetadataValue::F32(v) => Some(v as f64),
            MetadataValue::F64(v) => Some(v),
            _ => self.as_i64().map(|v| v as f64),
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            MetadataValue::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetadataValue::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[MetadataValue]> {
        match self {
            MetadataValue::Array(a) => Some(a),
            _ => None,
        }
    }

    /// A short human-readable rendering (arrays summarised), for `inspect`.
    pub fn summary(&self) -> String {
        match self {
            MetadataValue::String(s) if s.chars().count() > 60 => {
                format!("{:?}…", s.chars().take(60).collect::<String>())
            }
            MetadataValue::String(s) => format!("{s:?}"),
            MetadataValue::Array(a) => {
                let ty = a.first().map(|v| v.type_name()).unwrap_or("?");
                format!("[{ty}; {}]", a.len())
            }
            MetadataValue::F32(v) => format!("{v}"),
            MetadataValue::F64(v) => format!("{v}"),
            MetadataValue::Bool(v) => format!("{v}"),
            other => other.as_i64().map(|v| v.to_string()).unwrap_or_default(),
        }
    }
}

pub(super) fn read_value<S: ByteSource>(
    r: &mut HeaderReader<'_, S>,
    key: &str,
    type_id: u32,
    depth: u32,
) -> Result<MetadataValue, GgufError> {
    let ty = MetadataValueType::from_id(type_id)
        .ok_or_else(|| GgufError::UnknownValueType { key: key.to_string(), type_id })?;
    let what = || format!("the value of metadata key {key:?}");
    Ok(match ty {
        MetadataValueType::U8 => MetadataValue::U8(r.array::<1>(&what)?[0]),
        MetadataValueType::I8 => MetadataValue::I8(r.array::<1>(&what)?[0] as i8),
        MetadataValueType::U16 => MetadataValue::U16(u16::from_le_bytes(r.array(&what)?)),
        MetadataValueType::I16 => MetadataValue::I16(i16::from_le_bytes(r.array(&what)?)),
        MetadataValueType::U32 => MetadataValue::U32(u32::from_le_bytes(r.array(&what)?)),
        MetadataValueType::I32 => MetadataValue::I32(i32::from_le_bytes(r.array(&what)?)),
        MetadataValueType::F32 => MetadataValue::F32(f32::from_le_bytes(r.array(&what)?)),
        MetadataValueType::U64 => MetadataValue::U64(u64::from_le_bytes(r.array(&what)?)),
        MetadataValueType::I64 => MetadataValue::I64(i64::from_le_bytes(r.array(&what)?)),
        MetadataValueType::F64 => MetadataValue::F64(f64::from_le_bytes(r.array(&what)?)),
        MetadataValueType::Bool => {
            let offset = r.pos;
            match r.array::<1>(&what)?[0] {
                0 => MetadataValue::Bool(false),
                1 => MetadataValue::Bool(true),
                b => {
                    return Err(GgufError::WrongType {
                        key: key.to_string(),
                        expected: "a boolean (0 or 1)",
                        found: format!("byte {b} at offset {offset}"),
                    })
                }
            }
        }
        MetadataValueType::String => MetadataValue::String(r.string(&what)?),
        MetadataValueType::Array => {
            if depth >= MAX_ARRAY_DEPTH {
                return Err(GgufError::WrongType {
                    key: key.to_string(),
                    expected: "arrays nested at most 8 deep",
                    found: "a deeper array".into(),
                });
            }
            let elem_id = r.u32(&|| format!("the element type of array {key:?}"))?;
            let elem = MetadataValueType::from_id(elem_id)
                .ok_or_else(|| GgufError::UnknownValueType { key: key.to_string(), type_id: elem_id })?;
            let n = r.count(elem.min_bytes(), &|| format!("array {key:?}"))?;
            r.metadata_items(n, &|| format!("array {key:?}"))?;
            let mut items = Vec::with_capacity(n as usize);
            for _ in 0..n {
                items.push(read_value(r, key, elem_id, depth + 1)?);
            }
            MetadataValue::Array(items)
        }
    })
}
