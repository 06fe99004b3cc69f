//! The GGUF container: header, metadata key/values and tensor infos, parsed eagerly and
//! checked against the file's size, with tensor data read (and dequantized) on demand.
//!
//! Layout (little-endian, versions 2 and 3): magic `GGUF`, `u32` version, `u64` tensor count,
//! `u64` key/value count, the key/values, the tensor infos, then padding up to
//! `general.alignment` (32 by default) where the data section starts. A tensor info's offset is
//! relative to that data section. ggml lists dimensions innermost first (`ne[0]` is the length
//! of a row), the reverse of PyTorch's order.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::dequant::{GgmlType, dequantize_into};
use crate::error::{ModelError, Result};
use crate::hf::tensors::HostTensor;

/// The four bytes every GGUF file starts with.
const MAGIC: [u8; 4] = *b"GGUF";
/// Alignment of the data section and of every tensor when `general.alignment` is absent.
const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml's `GGML_MAX_DIMS`.
const MAX_DIMS: u32 = 4;
/// Arrays of arrays are legal but unused in practice; bound the recursion a hostile file can ask for.
const MAX_ARRAY_NESTING: usize = 8;

/// One metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum GgufValue {
    /// `uint8` (type 0).
    U8(u8),
    /// `int8` (type 1).
    I8(i8),
    /// `uint16` (type 2).
    U16(u16),
    /// `int16` (type 3).
    I16(i16),
    /// `uint32` (type 4).
    U32(u32),
    /// `int32` (type 5).
    I32(i32),
    /// `float32` (type 6).
    F32(f32),
    /// `bool` (type 7).
    Bool(bool),
    /// UTF-8 `string` (type 8).
    String(String),
    /// `array` (type 9) of values of one type, possibly arrays themselves.
    Array(Vec<GgufValue>),
    /// `uint64` (type 10).
    U64(u64),
    /// `int64` (type 11).
    I64(i64),
    /// `float64` (type 12).
    F64(f64),
}

impl GgufValue {
    /// The value as an unsigned integer, if it is an integer of any width and not negative.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::U8(v) => Some(v.into()),
            Self::U16(v) => Some(v.into()),
            Self::U32(v) => Some(v.into()),
            Self::U64(v) => Some(v),
            Self::I8(v) => u64::try_from(v).ok(),
            Self::I16(v) => u64::try_from(v).ok(),
            Self::I32(v) => u64::try_from(v).ok(),
            Self::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a signed integer, if it is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Self::I8(v) => Some(v.into()),
            Self::I16(v) => Some(v.into()),
            Self::I32(v) => Some(v.into()),
            Self::I64(v) => Some(v),
            _ => self.as_u64().and_then(|v| i64::try_from(v).ok()),
        }
    }

    /// The value as a float, if it is a float or an integer.
    ///
    /// A `float32` is widened through its shortest decimal spelling, so `1e-5` stored as f32
    /// reads back as `1e-5` rather than `9.999999747378752e-6` (both round to the same f32).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Self::F32(v) => Some(v.to_string().parse().unwrap_or(f64::from(v))),
            Self::F64(v) => Some(v),
            _ => self.as_i64().map(|v| v as f64),
        }
    }

    /// The value as a bool, if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Self::Bool(v) => Some(v),
            _ => None,
        }
    }

    /// The value as a string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(v) => Some(v),
            _ => None,
        }
    }

    /// The elements, if the value is an array.
    pub fn as_array(&self) -> Option<&[GgufValue]> {
        match self {
            Self::Array(v) => Some(v),
            _ => None,
        }
    }

    /// GGUF's name for the value's type (`uint32`, `string`, `array`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::U8(_) => "uint8",
            Self::I8(_) => "int8",
            Self::U16(_) => "uint16",
            Self::I16(_) => "int16",
            Self::U32(_) => "uint32",
            Self::I32(_) => "int32",
            Self::F32(_) => "float32",
            Self::Bool(_) => "bool",
            Self::String(_) => "string",
            Self::Array(_) => "array",
            Self::U64(_) => "uint64",
            Self::I64(_) => "int64",
            Self::F64(_) => "float64",
        }
    }
}

/// A short human-readable rendering: numbers in full, strings quoted and cut to 80 characters,
/// arrays as their length and element type.
impl std::fmt::Display for GgufValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::U8(v) => write!(f, "{v}"),
            Self::I8(v) => write!(f, "{v}"),
            Self::U16(v) => write!(f, "{v}"),
            Self::I16(v) => write!(f, "{v}"),
            Self::U32(v) => write!(f, "{v}"),
            Self::I32(v) => write!(f, "{v}"),
            Self::F32(v) => write!(f, "{v}"),
            Self::Bool(v) => write!(f, "{v}"),
            Self::String(v) => write!(f, "\"{}\"", shown(v)),
            Self::U64(v) => write!(f, "{v}"),
            Self::I64(v) => write!(f, "{v}"),
            Self::F64(v) => write!(f, "{v}"),
            Self::Array(v) => match v.first() {
                Some(first) => write!(f, "[{} × {}]", v.len(), first.type_name()),
                None => f.write_str("[]"),
            },
        }
    }
}

/// Where one tensor lies in the file and what it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufTensorInfo {
    /// The tensor's GGUF name (`blk.0.attn_q.weight`).
    pub name: String,
    /// ggml dimensions, innermost (`ne[0]`, the row length) first.
    pub dims: Vec<u64>,
    /// Dimensions outermost first, as PyTorch and HF order them (`dims` reversed).
    pub shape: Vec<usize>,
    /// Element type.
    pub ggml_type: GgmlType,
    /// Absolute byte offset of the data in the file.
    pub offset: u64,
    /// Number of values.
    pub n_elements: u64,
    /// Number of bytes of data.
    pub n_bytes: u64,
}

/// A parsed GGUF file: metadata and tensor infos in memory, tensor data read on demand.
#[derive(Debug)]
pub struct GgufFile {
    path: PathBuf,
    version: u32,
    alignment: u64,
    data_offset: u64,
    file_len: u64,
    metadata: Vec<(String, GgufValue)>,
    tensors: Vec<GgufTensorInfo>,
    // Reads seek a shared handle; the lock keeps concurrent `&self` reads from racing on it.
    file: Mutex<File>,
}

impl GgufFile {
    /// Opens and parses `path`, checking that every tensor lies inside the file.
    ///
    /// # Errors
    /// [`ModelError::Io`] if the file cannot be read; [`ModelError::Gguf`] if it is not a
    /// well-formed GGUF v2/v3 file or uses a tensor type seal cannot read.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| ModelError::io(path, e))?;
        let file_len = file.metadata().map_err(|e| ModelError::io(path, e))?.len();
        let mut parser = Parser {
            reader: BufReader::with_capacity(1 << 16, &file),
            pos: 0,
            file_len,
            path,
            context: "the header".into(),
        };

        let magic: [u8; 4] = parser.array()?;
        if magic != MAGIC {
            return Err(parser.error(format!(
                "bad magic {magic:02x?} (expected \"GGUF\"): not a GGUF file"
            )));
        }
        let version = parser.u32()?;
        if version != 2 && version != 3 {
            let reason = if matches!(version.swap_bytes(), 2 | 3) {
                "big-endian GGUF files are not supported".to_string()
            } else {
                format!("unsupported GGUF version {version} (seal reads versions 2 and 3)")
            };
            return Err(parser.error(reason));
        }
        let tensor_count = parser.u64()?;
        let kv_count = parser.u64()?;

        // Counts come from the file: never reserve more than the remaining bytes could hold.
        let mut metadata = Vec::with_capacity(parser.capacity_for(kv_count, 13));
        let mut seen = HashSet::new();
        for index in 0..kv_count {
            parser.context = format!("metadata key {index}");
            let key = parser.string()?;
            parser.context = format!("metadata value `{}`", shown(&key));
            if !seen.insert(key.clone()) {
                return Err(parser.error(format!("duplicate metadata key `{}`", shown(&key))));
            }
            let value_type = parser.u32()?;
            let value = parser.value(value_type, 0)?;
            metadata.push((key, value));
        }

        let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some((_, value)) => match value.as_u64() {
                Some(a) if a > 0 && a.is_power_of_two() => a,
                _ => {
                    return Err(
                        parser.error(format!("`general.alignment` is {value}, expected a power of two"))
                    );
                }
            },
        };

        let mut raw = Vec::with_capacity(parser.capacity_for(tensor_count, 24));
        for index in 0..tensor_count {
            parser.context = format!("tensor info {index}");
            let name = parser.string()?;
            parser.context = format!("tensor info `{}`", shown(&name));
            let n_dims = parser.u32()?;
            if n_dims > MAX_DIMS {
                return Err(parser.error(format!(
                    "tensor `{}` has {n_dims} dimensions (at most {MAX_DIMS})",
                    shown(&name)
                )));
            }
            let dims = (0..n_dims).map(|_| parser.u64()).collect::<Result<Vec<_>>>()?;
            let type_id = parser.u32()?;
            let offset = parser.u64()?;
            raw.push((name, dims, type_id, offset));
        }
        let data_offset = align_up(parser.pos, alignment)
            .ok_or_else(|| parser.error("data section offset overflows".into()))?;

        let mut tensors: Vec<GgufTensorInfo> = Vec::with_capacity(raw.len());
        for (name, dims, type_id, offset) in raw {
            let info = tensor_info(
                path,
                name,
                dims,
                type_id,
                offset,
                data_offset,
                alignment,
                file_len,
            )?;
            tensors.push(info);
        }
        let mut names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(gguf_error(path, format!("tensor `{}` appears twice", pair[0])));
        }

        Ok(Self {
            path: path.to_path_buf(),
            version,
            alignment,
            data_offset,
            file_len,
            metadata,
            tensors,
            file: Mutex::new(file),
        })
    }

    /// The file this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// GGUF format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Alignment of the data section and of each tensor's data.
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Absolute offset of the data section.
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// Size of the file in bytes.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// All metadata key/values, in file order.
    pub fn metadata(&self) -> &[(String, GgufValue)] {
        &self.metadata
    }

    /// The metadata value under `key`, if present.
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The metadata value under `key`.
    ///
    /// # Errors
    /// [`ModelError::Gguf`] naming the key if it is absent.
    pub fn require(&self, key: &str) -> Result<&GgufValue> {
        self.get(key)
            .ok_or_else(|| self.error(format!("missing metadata key `{key}`")))
    }

    /// The unsigned integer under `key`, if present.
    ///
    /// # Errors
    /// [`ModelError::Gguf`] if the value is not a non-negative integer.
    pub fn u64_opt(&self, key: &str) -> Result<Option<u64>> {
        self.get(key)
            .map(|v| {
                v.as_u64()
                    .ok_or_else(|| self.mistyped(key, v, "an unsigned integer"))
            })
            .transpose()
    }

    /// The unsigned integer under `key`.
    ///
    /// # Errors
    /// [`ModelError::Gguf`] if absent or not a non-negative integer.
    pub fn u64(&self, key: &str) -> Result<u64> {
        self.u64_opt(key)?
            .ok_or_else(|| self.error(format!("missing metadata key `{key}`")))
    }

    /// The number under `key` (float or integer), if present.
    ///
    /// # Errors
    /// [`ModelError::Gguf`] if the value is not a number.
    pub fn f64_opt(&self, key: &str) -> Result<Option<f64>> {
        self.get(key)
            .map(|v| v.as_f64().ok_or_else(|| self.mistyped(key, v, "a number")))
            .transpose()
    }

    /// The bool under `key`, if present.
    ///
    /// # Errors
    /// [`ModelError::Gguf`] if the value is not a bool.
    pub fn bool_opt(&self, key: &str) -> Result<Option<bool>> {
        self.get(key)
            .map(|v| v.as_bool().ok_or_else(|| self.mistyped(key, v, "a bool")))
            .transpose()
    }

    /// The string under `key`, if present.
    ///
    /// # Errors
    /// [`ModelError::Gguf`] if the value is not a string.
    pub fn str_opt(&self, key: &str) -> Result<Option<&str>> {
        self.get(key)
            .map(|v| v.as_str().ok_or_else(|| self.mistyped(key, v, "a string")))
            .transpose()
    }

    /// The string under `key`.
    ///
    /// # Errors
    /// [`ModelError::Gguf`] if absent or not a string.
    pub fn str(&self, key: &str) -> Result<&str> {
        self.str_opt(key)?
            .ok_or_else(|| self.error(format!("missing metadata key `{key}`")))
    }

    /// The array under `key`, if present.
    ///
    /// # Errors
    /// [`ModelError::Gguf`] if the value is not an array.
    pub fn array_opt(&self, key: &str) -> Result<Option<&[GgufValue]>> {
        self.get(key)
            .map(|v| v.as_array().ok_or_else(|| self.mistyped(key, v, "an array")))
            .transpose()
    }

    /// All tensor infos, in file order.
    pub fn tensors(&self) -> &[GgufTensorInfo] {
        &self.tensors
    }

    /// The info of tensor `name`, if present.
    pub fn tensor_info(&self, name: &str) -> Option<&GgufTensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The raw (still quantized) bytes of a tensor.
    ///
    /// # Errors
    /// [`ModelError::Io`] on a read error; [`ModelError::Gguf`] if the file shrank since it was
    /// opened.
    pub fn tensor_bytes(&self, info: &GgufTensorInfo) -> Result<Vec<u8>> {
        let len = usize::try_from(info.n_bytes)
            .map_err(|_| self.error(format!("tensor `{}` is too large for this platform", info.name)))?;
        let mut bytes = vec![0u8; len];
        // A poisoned lock only means another reader panicked mid-read; every read seeks first.
        let mut file = self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        file.seek(SeekFrom::Start(info.offset))
            .map_err(|e| ModelError::io(&self.path, e))?;
        file.read_exact(&mut bytes).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                self.error(format!(
                    "truncated file: data of tensor `{}` ends past the end of the file",
                    info.name
                ))
            } else {
                ModelError::io(&self.path, e)
            }
        })?;
        Ok(bytes)
    }

    /// A tensor dequantized to f32, in PyTorch layout (`shape` outermost first), with no
    /// architecture-specific reordering.
    ///
    /// # Errors
    /// As [`GgufFile::tensor_bytes`].
    pub fn dequantize(&self, info: &GgufTensorInfo) -> Result<HostTensor> {
        let bytes = self.tensor_bytes(info)?;
        let len = usize::try_from(info.n_elements)
            .map_err(|_| self.error(format!("tensor `{}` is too large for this platform", info.name)))?;
        let mut data = vec![0.0f32; len];
        dequantize_into(info.ggml_type, &bytes, &mut data)
            .map_err(|reason| self.error(format!("tensor `{}`: {reason}", info.name)))?;
        Ok(HostTensor {
            shape: info.shape.clone(),
            data,
        })
    }

    /// The tensor `name` dequantized to f32 (see [`GgufFile::dequantize`]).
    ///
    /// # Errors
    /// [`ModelError::Gguf`] if there is no such tensor; otherwise as [`GgufFile::tensor_bytes`].
    pub fn tensor(&self, name: &str) -> Result<HostTensor> {
        let info = self
            .tensor_info(name)
            .ok_or_else(|| self.error(format!("no tensor `{name}`")))?;
        self.dequantize(info)
    }

    /// A [`ModelError::Gguf`] about this file.
    pub(crate) fn error(&self, reason: String) -> ModelError {
        gguf_error(&self.path, reason)
    }

    fn mistyped(&self, key: &str, value: &GgufValue, expected: &str) -> ModelError {
        self.error(format!(
            "metadata key `{key}` is {} {value}, expected {expected}",
            value.type_name()
        ))
    }
}

/// A name read from the file, fit for a message: control characters escaped, cut to 80 characters
/// (a corrupt length can make a "name" swallow the rest of the header).
fn shown(name: &str) -> String {
    let escaped: String = name.chars().flat_map(char::escape_debug).take(81).collect();
    if escaped.chars().count() > 80 {
        format!("{}…", escaped.chars().take(80).collect::<String>())
    } else {
        escaped
    }
}

pub(crate) fn gguf_error(path: &Path, reason: String) -> ModelError {
    ModelError::Gguf {
        path: path.to_path_buf(),
        reason,
    }
}

fn align_up(pos: u64, alignment: u64) -> Option<u64> {
    pos.checked_add(alignment - 1).map(|p| p / alignment * alignment)
}

/// Checks one tensor info against the file and resolves its type, size and absolute offset.
#[allow(clippy::too_many_arguments)]
fn tensor_info(
    path: &Path,
    name: String,
    dims: Vec<u64>,
    type_id: u32,
    offset: u64,
    data_offset: u64,
    alignment: u64,
    file_len: u64,
) -> Result<GgufTensorInfo> {
    let err = |reason: String| gguf_error(path, reason);
    let label = shown(&name);
    let ggml_type = GgmlType::from_id(type_id).ok_or_else(|| {
        err(format!(
            "tensor `{label}` has unknown or unsupported tensor type {type_id} (seal reads {})",
            GgmlType::ALL.map(|t| format!("{t} ({})", t.id())).join(", ")
        ))
    })?;
    let n_elements = dims
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d))
        .ok_or_else(|| {
            err(format!(
                "tensor `{label}`: element count of dims {dims:?} overflows"
            ))
        })?;
    // Blocks never straddle rows, so the row length itself must be whole blocks.
    let row = dims.first().copied().unwrap_or(1);
    if row % ggml_type.block_elements() as u64 != 0 {
        return Err(err(format!(
            "tensor `{label}` of type {ggml_type} has rows of {row} values, not a multiple of its block size {}",
            ggml_type.block_elements()
        )));
    }
    let n_bytes = ggml_type
        .bytes_for(n_elements)
        .ok_or_else(|| err(format!("tensor `{label}`: byte size of dims {dims:?} overflows")))?;
    if !offset.is_multiple_of(alignment) {
        return Err(err(format!(
            "tensor `{label}` has data offset {offset}, not a multiple of the alignment {alignment}"
        )));
    }
    let start = data_offset.checked_add(offset);
    let end = start.and_then(|s| s.checked_add(n_bytes));
    let (Some(start), Some(end)) = (start, end) else {
        return Err(err(format!(
            "tensor `{label}` data out of bounds: offset {offset} overflows"
        )));
    };
    if end > file_len {
        return Err(err(format!(
            "tensor `{label}` data out of bounds: bytes {start}..{end} of a {file_len}-byte file (truncated file?)"
        )));
    }
    let shape = dims
        .iter()
        .rev()
        .map(|&d| usize::try_from(d))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| {
            err(format!(
                "tensor `{label}`: dims {dims:?} do not fit this platform"
            ))
        })?;
    Ok(GgufTensorInfo {
        name,
        dims,
        shape,
        ggml_type,
        offset: start,
        n_elements,
        n_bytes,
    })
}

/// Sequential little-endian reads of the header, tracking the position for messages and the
/// bytes left for sanity checks on lengths read from the file.
struct Parser<'a, R> {
    reader: R,
    pos: u64,
    file_len: u64,
    path: &'a Path,
    /// What is being read, for the truncation message.
    context: String,
}

impl<R: Read> Parser<'_, R> {
    fn error(&self, reason: String) -> ModelError {
        gguf_error(self.path, reason)
    }

    fn truncated(&self) -> ModelError {
        self.error(format!(
            "truncated file: unexpected end of file at byte {} of {} while reading {}",
            self.pos, self.file_len, self.context
        ))
    }

    fn remaining(&self) -> u64 {
        self.file_len.saturating_sub(self.pos)
    }

    /// How many items of at least `min_size` bytes to reserve room for when the file claims
    /// `count`.
    fn capacity_for(&self, count: u64, min_size: u64) -> usize {
        usize::try_from(count.min(self.remaining() / min_size)).unwrap_or(0)
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<()> {
        match self.reader.read_exact(buf) {
            Ok(()) => {
                self.pos += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(self.truncated()),
            Err(e) => Err(ModelError::io(self.path, e)),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut buf = [0u8; N];
        self.fill(&mut buf)?;
        Ok(buf)
    }

    fn u32(&mut self) -> Result<u32> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64> {
        self.array().map(u64::from_le_bytes)
    }

    fn string(&mut self) -> Result<String> {
        let len = self.u64()?;
        if len > self.remaining() {
            return Err(self.truncated());
        }
        let len = usize::try_from(len).map_err(|_| self.truncated())?;
        let mut bytes = vec![0u8; len];
        self.fill(&mut bytes)?;
        String::from_utf8(bytes)
            .map_err(|_| self.error(format!("string in {} is not valid UTF-8", self.context)))
    }

    fn value(&mut self, value_type: u32, depth: usize) -> Result<GgufValue> {
        Ok(match value_type {
            0 => GgufValue::U8(u8::from_le_bytes(self.array()?)),
            1 => GgufValue::I8(i8::from_le_bytes(self.array()?)),
            2 => GgufValue::U16(u16::from_le_bytes(self.array()?)),
            3 => GgufValue::I16(i16::from_le_bytes(self.array()?)),
            4 => GgufValue::U32(u32::from_le_bytes(self.array()?)),
            5 => GgufValue::I32(i32::from_le_bytes(self.array()?)),
            6 => GgufValue::F32(f32::from_le_bytes(self.array()?)),
            // llama.cpp reads a bool as one byte and treats any non-zero byte as true.
            7 => GgufValue::Bool(u8::from_le_bytes(self.array()?) != 0),
            8 => GgufValue::String(self.string()?),
            9 => {
                if depth >= MAX_ARRAY_NESTING {
                    return Err(self.error(format!(
                        "{}: arrays nested more than {MAX_ARRAY_NESTING} deep",
                        self.context
                    )));
                }
                let element_type = self.u32()?;
                let count = self.u64()?;
                let min_size = match element_type {
                    0 | 1 | 7 => 1,
                    2 | 3 => 2,
                    4..=6 => 4,
                    8 | 10..=12 => 8,
                    9 => 12,
                    other => {
                        return Err(self.error(format!(
                            "{} is an array of unknown value type {other}",
                            self.context
                        )));
                    }
                };
                if count.checked_mul(min_size).is_none_or(|n| n > self.remaining()) {
                    return Err(self.truncated());
                }
                let mut items = Vec::with_capacity(self.capacity_for(count, min_size));
                for _ in 0..count {
                    items.push(self.value(element_type, depth + 1)?);
                }
                GgufValue::Array(items)
            }
            10 => GgufValue::U64(u64::from_le_bytes(self.array()?)),
            11 => GgufValue::I64(i64::from_le_bytes(self.array()?)),
            12 => GgufValue::F64(f64::from_le_bytes(self.array()?)),
            other => {
                return Err(self.error(format!("{} has unknown value type {other}", self.context)));
            }
        })
    }
}
