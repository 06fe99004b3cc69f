//! Host-side tensors keyed by Hugging Face checkpoint names, the meeting point of every weight
//! format (safetensors, sharded safetensors, GGUF) and the Burn model.

use std::collections::BTreeMap;

use crate::error::{ModelError, Result};

/// One dense f32 tensor in host memory, row-major, in the checkpoint's (PyTorch) layout:
/// a Linear weight is `[out_features, in_features]`.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Row-major values; `data.len()` equals the product of `shape`.
    pub data: Vec<f32>,
}

impl HostTensor {
    /// A tensor from its shape and row-major values.
    ///
    /// # Panics
    /// If `data.len()` is not the product of `shape` (a bug in the caller, not bad input).
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "host tensor data does not fill its shape {shape:?}"
        );
        Self { shape, data }
    }

    /// The transpose of a 2-D tensor.
    ///
    /// # Panics
    /// If the tensor is not 2-D.
    pub fn transposed(&self) -> Self {
        let [rows, cols] = self.shape[..] else {
            panic!("transpose of a {}-D tensor", self.shape.len())
        };
        let mut out = vec![0.0; self.data.len()];
        for r in 0..rows {
            for c in 0..cols {
                out[c * rows + r] = self.data[r * cols + c];
            }
        }
        Self::new(vec![cols, rows], out)
    }
}

/// Named host tensors, as read from a checkpoint, before they become model parameters.
#[derive(Debug, Default, Clone)]
pub struct TensorMap {
    tensors: BTreeMap<String, HostTensor>,
}

impl TensorMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `tensor` under `name`.
    ///
    /// # Errors
    /// [`ModelError::DuplicateTensor`] if `name` is already present (e.g. in two shards).
    pub fn insert(&mut self, name: impl Into<String>, tensor: HostTensor) -> Result<()> {
        let name = name.into();
        if self.tensors.contains_key(&name) {
            return Err(ModelError::DuplicateTensor { name });
        }
        self.tensors.insert(name, tensor);
        Ok(())
    }

    /// Removes and returns the tensor `name`, checking its shape.
    ///
    /// # Errors
    /// [`ModelError::MissingTensor`] if absent, [`ModelError::TensorShape`] if its shape differs.
    pub fn take(&mut self, name: &str, shape: &[usize]) -> Result<HostTensor> {
        let tensor = self
            .tensors
            .remove(name)
            .ok_or_else(|| ModelError::MissingTensor {
                name: name.to_string(),
            })?;
        if tensor.shape != shape {
            return Err(ModelError::TensorShape {
                name: name.to_string(),
                expected: shape.to_vec(),
                found: tensor.shape,
            });
        }
        Ok(tensor)
    }

    /// Removes and returns the tensor `name` if present, whatever its shape.
    pub fn remove(&mut self, name: &str) -> Option<HostTensor> {
        self.tensors.remove(name)
    }

    /// Whether `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// The tensor `name`, if present.
    pub fn get(&self, name: &str) -> Option<&HostTensor> {
        self.tensors.get(name)
    }

    /// Names in sorted order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether the map holds no tensor.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Consumes the map, yielding `(name, tensor)` in sorted order.
    pub fn into_iter_sorted(self) -> impl Iterator<Item = (String, HostTensor)> {
        self.tensors.into_iter()
    }
}
