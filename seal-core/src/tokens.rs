//! A training example as token ids: the one record the data crate produces and the model
//! crate trains on, kept here so that neither of the two depends on the other for it.

/// One tokenized example: its ids and which of them are training targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenizedExample {
    /// Token ids, prompt then response.
    pub input_ids: Vec<u32>,
    /// 1 on response tokens (the ones the loss counts).
    pub loss_mask: Vec<u8>,
}
