//! The key/value cache of incremental decoding: per layer, the rotated keys and the values of
//! every token seen so far, plus the padding mask and next position of each row.

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

/// Keys and values of one layer, `[batch, kv_heads, len, head_dim]` each.
#[derive(Debug, Default)]
pub struct LayerCache<B: Backend> {
    kv: Option<(Tensor<B, 4>, Tensor<B, 4>)>,
    /// The fused CPU path's keys and values, on the host.
    host: crate::fused::HostKv,
}

impl<B: Backend> LayerCache<B> {
    /// Appends new keys and values and returns the full ones.
    pub(crate) fn append(
        &mut self,
        k: Tensor<B, 4>,
        v: Tensor<B, 4>,
        seq_dim: usize,
    ) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let (k, v) = match self.kv.take() {
            Some((pk, pv)) => (
                Tensor::cat(vec![pk, k], seq_dim),
                Tensor::cat(vec![pv, v], seq_dim),
            ),
            None => (k, v),
        };
        self.kv = Some((k.clone(), v.clone()));
        (k, v)
    }

    /// Keeps only the rows `keep` (ascending), in that order.
    fn retain_rows(&mut self, keep: &[usize]) {
        if let Some((k, v)) = self.kv.take() {
            let rows: Vec<i64> = keep.iter().map(|&r| r as i64).collect();
            let index = Tensor::<B, 1, Int>::from_data(TensorData::new(rows, [keep.len()]), &k.device());
            self.kv = Some((k.select(0, index.clone()), v.select(0, index)));
        }
        self.host.retain_rows(keep);
    }

    /// The host cache of the fused CPU inference path.
    pub(crate) fn host_mut(&mut self) -> &mut crate::fused::HostKv {
        &mut self.host
    }
}

/// The cache of a whole model for one batch of sequences.
#[derive(Debug)]
pub struct KvCache<B: Backend> {
    layers: Vec<LayerCache<B>>,
    key_mask: Vec<Vec<u8>>,
    next_positions: Vec<usize>,
}

impl<B: Backend> KvCache<B> {
    /// An empty cache for `num_layers` layers and `batch` rows.
    pub fn new(num_layers: usize, batch: usize) -> Self {
        Self {
            layers: (0..num_layers)
                .map(|_| LayerCache {
                    kv: None,
                    host: crate::fused::HostKv::default(),
                })
                .collect(),
            key_mask: vec![Vec::new(); batch],
            next_positions: vec![0; batch],
        }
    }

    /// Rows.
    pub fn batch(&self) -> usize {
        self.key_mask.len()
    }

    /// Tokens cached per row (padding included).
    pub fn len(&self) -> usize {
        self.key_mask.first().map_or(0, Vec::len)
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keeps only the rows `keep` (ascending indices into the current rows), in that order:
    /// decoding drops the rows that have finished, so that later steps compute only the
    /// others. Each remaining row's keys, values, mask and position are unchanged.
    ///
    /// # Panics
    /// If `keep` is not ascending or names a row the cache does not have.
    pub fn retain_rows(&mut self, keep: &[usize]) {
        assert!(
            keep.windows(2).all(|w| w[0] < w[1]) && keep.last().is_none_or(|&r| r < self.batch()),
            "retain_rows: {keep:?} is not an ascending subset of {} rows",
            self.batch()
        );
        for layer in &mut self.layers {
            layer.retain_rows(keep);
        }
        self.key_mask = keep
            .iter()
            .map(|&r| std::mem::take(&mut self.key_mask[r]))
            .collect();
        self.next_positions = keep.iter().map(|&r| self.next_positions[r]).collect();
    }

    pub(crate) fn key_mask(&self) -> &[Vec<u8>] {
        &self.key_mask
    }

    pub(crate) fn next_positions(&self) -> &[usize] {
        &self.next_positions
    }

    pub(crate) fn layer_mut(&mut self, i: usize) -> &mut LayerCache<B> {
        &mut self.layers[i]
    }

    pub(crate) fn commit(&mut self, key_mask: Vec<Vec<u8>>, next_positions: Vec<usize>) {
        self.key_mask = key_mask;
        self.next_positions = next_positions;
    }
}
