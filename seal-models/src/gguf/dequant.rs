//! The ggml tensor types seal can read and their dequantization to f32.
//!
//! Block layouts follow ggml's reference C code (`ggml-quants.c`, `dequantize_row_*`) and give
//! the same f32 values bit for bit as gguf-py's `gguf.quants.dequantize`: every product is
//! formed in f32 in the same order, with no fused multiply-add.

use half::{bf16, f16};

/// Elements per super-block of the k-quants (ggml's `QK_K`).
const QK_K: usize = 256;

/// A ggml tensor type seal can dequantize, with ggml's numeric id (`enum ggml_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(non_camel_case_types)] // ggml's names, as llama.cpp and gguf-py print them
pub enum GgmlType {
    /// 32-bit float (id 0).
    F32,
    /// IEEE half (id 1).
    F16,
    /// 4-bit, one f16 scale per 32 values (id 2).
    Q4_0,
    /// 4-bit, f16 scale and minimum per 32 values (id 3).
    Q4_1,
    /// 5-bit, one f16 scale per 32 values (id 6).
    Q5_0,
    /// 5-bit, f16 scale and minimum per 32 values (id 7).
    Q5_1,
    /// 8-bit, one f16 scale per 32 values (id 8).
    Q8_0,
    /// 4-bit k-quant, 256-value super-blocks with 6-bit sub-block scales and minimums (id 12).
    Q4_K,
    /// 5-bit k-quant, laid out like `Q4_K` plus one high bit per value (id 13).
    Q5_K,
    /// 6-bit k-quant, 256-value super-blocks with 8-bit sub-block scales (id 14).
    Q6_K,
    /// bfloat16 (id 30).
    BF16,
}

impl GgmlType {
    /// Every supported type, in id order.
    pub const ALL: [GgmlType; 11] = [
        Self::F32,
        Self::F16,
        Self::Q4_0,
        Self::Q4_1,
        Self::Q5_0,
        Self::Q5_1,
        Self::Q8_0,
        Self::Q4_K,
        Self::Q5_K,
        Self::Q6_K,
        Self::BF16,
    ];

    /// The type with ggml id `id`, if seal supports it.
    pub fn from_id(id: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.id() == id)
    }

    /// ggml's numeric id, as stored in a GGUF tensor info.
    pub fn id(self) -> u32 {
        match self {
            Self::F32 => 0,
            Self::F16 => 1,
            Self::Q4_0 => 2,
            Self::Q4_1 => 3,
            Self::Q5_0 => 6,
            Self::Q5_1 => 7,
            Self::Q8_0 => 8,
            Self::Q4_K => 12,
            Self::Q5_K => 13,
            Self::Q6_K => 14,
            Self::BF16 => 30,
        }
    }

    /// ggml's name for the type (`Q4_1`, `F16`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "F32",
            Self::F16 => "F16",
            Self::Q4_0 => "Q4_0",
            Self::Q4_1 => "Q4_1",
            Self::Q5_0 => "Q5_0",
            Self::Q5_1 => "Q5_1",
            Self::Q8_0 => "Q8_0",
            Self::Q4_K => "Q4_K",
            Self::Q5_K => "Q5_K",
            Self::Q6_K => "Q6_K",
            Self::BF16 => "BF16",
        }
    }

    /// Values per block (1 for the float types).
    pub fn block_elements(self) -> usize {
        match self {
            Self::F32 | Self::F16 | Self::BF16 => 1,
            Self::Q4_0 | Self::Q4_1 | Self::Q5_0 | Self::Q5_1 | Self::Q8_0 => 32,
            Self::Q4_K | Self::Q5_K | Self::Q6_K => QK_K,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 | Self::BF16 => 2,
            Self::Q4_0 => 18,
            Self::Q4_1 => 20,
            Self::Q5_0 => 22,
            Self::Q5_1 => 24,
            Self::Q8_0 => 34,
            Self::Q4_K => 144,
            Self::Q5_K => 176,
            Self::Q6_K => 210,
        }
    }

    /// Whether the type is a block quantization (as opposed to a plain float type).
    pub fn is_quantized(self) -> bool {
        self.block_elements() > 1
    }

    /// Bytes that `elements` values take, or `None` if `elements` is not a whole number of
    /// blocks or the size overflows.
    pub fn bytes_for(self, elements: u64) -> Option<u64> {
        let per_block = self.block_elements() as u64;
        if !elements.is_multiple_of(per_block) {
            return None;
        }
        (elements / per_block).checked_mul(self.block_bytes() as u64)
    }
}

impl std::fmt::Display for GgmlType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Dequantizes `bytes` (whole blocks of `ty`) into `out`, which must hold exactly the blocks'
/// values (`bytes.len() / block_bytes * block_elements`).
///
/// Returns `Err` with a message when the lengths disagree; callers wrap it into their error.
pub fn dequantize_into(ty: GgmlType, bytes: &[u8], out: &mut [f32]) -> std::result::Result<(), String> {
    let (eb, bb) = (ty.block_elements(), ty.block_bytes());
    if !bytes.len().is_multiple_of(bb) || bytes.len() / bb * eb != out.len() {
        return Err(format!(
            "{} bytes of {ty} do not hold {} values (blocks of {eb} values in {bb} bytes)",
            bytes.len(),
            out.len()
        ));
    }
    let blocks = bytes.chunks_exact(bb).zip(out.chunks_exact_mut(eb));
    match ty {
        GgmlType::F32 => {
            for (b, y) in blocks {
                y[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        GgmlType::F16 => {
            for (b, y) in blocks {
                y[0] = f16::from_le_bytes([b[0], b[1]]).to_f32();
            }
        }
        GgmlType::BF16 => {
            for (b, y) in blocks {
                y[0] = bf16::from_le_bytes([b[0], b[1]]).to_f32();
            }
        }
        GgmlType::Q8_0 => blocks.for_each(|(b, y)| q8_0(b, y)),
        GgmlType::Q4_0 => blocks.for_each(|(b, y)| q4_0(b, y)),
        GgmlType::Q4_1 => blocks.for_each(|(b, y)| q4_1(b, y)),
        GgmlType::Q5_0 => blocks.for_each(|(b, y)| q5_0(b, y)),
        GgmlType::Q5_1 => blocks.for_each(|(b, y)| q5_1(b, y)),
        GgmlType::Q4_K => blocks.for_each(|(b, y)| q4_k(b, y)),
        GgmlType::Q5_K => blocks.for_each(|(b, y)| q5_k(b, y)),
        GgmlType::Q6_K => blocks.for_each(|(b, y)| q6_k(b, y)),
    }
    Ok(())
}

/// Dequantizes whole blocks of `ty` into a new vector.
///
/// Returns `Err` with a message when `bytes` is not a whole number of blocks.
pub fn dequantize(ty: GgmlType, bytes: &[u8]) -> std::result::Result<Vec<f32>, String> {
    let bb = ty.block_bytes();
    if !bytes.len().is_multiple_of(bb) {
        return Err(format!(
            "{} bytes are not a whole number of {ty} blocks of {bb} bytes",
            bytes.len()
        ));
    }
    let mut out = vec![0.0; bytes.len() / bb * ty.block_elements()];
    dequantize_into(ty, bytes, &mut out)?;
    Ok(out)
}

fn f16_at(b: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}

/// `d: f16, qs: [i8; 32]`; `y = d·q`.
fn q8_0(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    for (y, &q) in y.iter_mut().zip(&b[2..34]) {
        *y = d * f32::from(q as i8);
    }
}

/// `d: f16, qs: [u8; 16]`; value `j` is the low nibble of `qs[j]`, value `j + 16` the high
/// nibble, both offset by 8.
fn q4_0(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    let (lo, hi) = y.split_at_mut(16);
    for (j, &q) in b[2..18].iter().enumerate() {
        lo[j] = d * f32::from((q & 0x0F) as i8 - 8);
        hi[j] = d * f32::from((q >> 4) as i8 - 8);
    }
}

/// `d: f16, m: f16, qs: [u8; 16]`; nibbles as in `Q4_0`, `y = d·q + m`.
fn q4_1(b: &[u8], y: &mut [f32]) {
    let (d, m) = (f16_at(b, 0), f16_at(b, 2));
    let (lo, hi) = y.split_at_mut(16);
    for (j, &q) in b[4..20].iter().enumerate() {
        lo[j] = d * f32::from(q & 0x0F) + m;
        hi[j] = d * f32::from(q >> 4) + m;
    }
}

/// The little-endian `u32` at `b[at..at + 4]`: the fifth bits of a 5-bit block, bit `j` for
/// value `j`.
fn high_bits(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// `d: f16, qh: u32, qs: [u8; 16]`; the nibbles of `Q4_0` plus a fifth bit from `qh` (bit `j`
/// for value `j`), offset by 16.
fn q5_0(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    let qh = high_bits(b, 2);
    let (lo, hi) = y.split_at_mut(16);
    for (j, &q) in b[6..22].iter().enumerate() {
        let h0 = ((qh >> j) & 1) as u8;
        let h1 = ((qh >> (j + 16)) & 1) as u8;
        lo[j] = d * f32::from(((q & 0x0F) | (h0 << 4)) as i8 - 16);
        hi[j] = d * f32::from(((q >> 4) | (h1 << 4)) as i8 - 16);
    }
}

/// `d: f16, m: f16, qh: u32, qs: [u8; 16]`; 5-bit values as in `Q5_0`, `y = d·q + m`.
fn q5_1(b: &[u8], y: &mut [f32]) {
    let (d, m) = (f16_at(b, 0), f16_at(b, 2));
    let qh = high_bits(b, 4);
    let (lo, hi) = y.split_at_mut(16);
    for (j, &q) in b[8..24].iter().enumerate() {
        let h0 = ((qh >> j) & 1) as u8;
        let h1 = ((qh >> (j + 16)) & 1) as u8;
        lo[j] = d * f32::from((q & 0x0F) | (h0 << 4)) + m;
        hi[j] = d * f32::from((q >> 4) | (h1 << 4)) + m;
    }
}

/// The 6-bit scale and minimum of sub-block `j` (0..8) packed in a k-quant's 12 scale bytes
/// (ggml's `get_scale_min_k4`): sub-blocks 0..4 use the low 6 bits of bytes `j` and `j + 4`;
/// 4..8 take their low nibbles from bytes 8..12 and their top 2 bits from the spare bits of
/// bytes 0..8.
fn scale_min_k4(j: usize, s: &[u8]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

/// `d: f16, dmin: f16, scales: [u8; 12], qs: [u8; 128]`: 8 sub-blocks of 32; each 32 bytes of
/// `qs` hold two sub-blocks (low nibbles first); `y = (d·sc)·q − dmin·m`.
fn q4_k(b: &[u8], y: &mut [f32]) {
    let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
    let scales = &b[4..16];
    let qs = &b[16..144];
    for (pair, (q, y)) in qs.chunks_exact(32).zip(y.chunks_exact_mut(64)).enumerate() {
        let (sc1, m1) = scale_min_k4(2 * pair, scales);
        let (sc2, m2) = scale_min_k4(2 * pair + 1, scales);
        let (d1, m1) = (d * f32::from(sc1), dmin * f32::from(m1));
        let (d2, m2) = (d * f32::from(sc2), dmin * f32::from(m2));
        let (lo, hi) = y.split_at_mut(32);
        for (l, &q) in q.iter().enumerate() {
            lo[l] = d1 * f32::from(q & 0x0F) - m1;
            hi[l] = d2 * f32::from(q >> 4) - m2;
        }
    }
}

/// `d: f16, dmin: f16, scales: [u8; 12], qh: [u8; 32], qs: [u8; 128]`: `Q4_K` plus a fifth
/// bit per value, bit `j` of `qh[l]` for value `l` of sub-block `j`.
fn q5_k(b: &[u8], y: &mut [f32]) {
    let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
    let scales = &b[4..16];
    let qh = &b[16..48];
    let qs = &b[48..176];
    for (pair, (q, y)) in qs.chunks_exact(32).zip(y.chunks_exact_mut(64)).enumerate() {
        let (j1, j2) = (2 * pair, 2 * pair + 1);
        let (sc1, m1) = scale_min_k4(j1, scales);
        let (sc2, m2) = scale_min_k4(j2, scales);
        let (d1, m1) = (d * f32::from(sc1), dmin * f32::from(m1));
        let (d2, m2) = (d * f32::from(sc2), dmin * f32::from(m2));
        let (lo, hi) = y.split_at_mut(32);
        for (l, &q) in q.iter().enumerate() {
            let h1 = (qh[l] >> j1) & 1;
            let h2 = (qh[l] >> j2) & 1;
            lo[l] = d1 * f32::from((q & 0x0F) | (h1 << 4)) - m1;
            hi[l] = d2 * f32::from((q >> 4) | (h2 << 4)) - m2;
        }
    }
}

/// `ql: [u8; 128], qh: [u8; 64], scales: [i8; 16], d: f16`: two halves of 128 values; in each,
/// value `l + 32·k` (k = 0..4) takes a nibble of `ql` (`ql[l]`, `ql[l + 32]`, low then high)
/// and two bits of `qh[l]` (bits `2k..2k + 2`), offset by 32, scaled by `d·scales[·]` per 16.
fn q6_k(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 208);
    for half in 0..2 {
        let ql = &b[64 * half..64 * half + 64];
        let qh = &b[128 + 32 * half..128 + 32 * half + 32];
        let sc = &b[192 + 8 * half..192 + 8 * half + 8];
        let y = &mut y[128 * half..128 * half + 128];
        for l in 0..32 {
            let is = l / 16;
            let q1 = ((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) as i8 - 32;
            let q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) as i8 - 32;
            let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i8 - 32;
            let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i8 - 32;
            y[l] = d * f32::from(sc[is] as i8) * f32::from(q1);
            y[l + 32] = d * f32::from(sc[is + 2] as i8) * f32::from(q2);
            y[l + 64] = d * f32::from(sc[is + 4] as i8) * f32::from(q3);
            y[l + 96] = d * f32::from(sc[is + 6] as i8) * f32::from(q4);
        }
    }
}
