//! The world's tokenizer: a small byte-level BPE trained in-process on every text of the world.

use tokenizers::decoders::DecoderWrapper;
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::models::{ModelWrapper, TrainerWrapper};
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::{AddedToken, TokenizerBuilder, TokenizerImpl};

use super::WorldError;

/// End of text: also the padding and beginning-of-text token, as in GPT-2.
pub const EOS_TOKEN: &str = "<|endoftext|>";

type Impl =
    TokenizerImpl<ModelWrapper, NormalizerWrapper, PreTokenizerWrapper, PostProcessorWrapper, DecoderWrapper>;

/// Trains a byte-level BPE with at most `vocab_size` entries on `texts` and returns its
/// `tokenizer.json` and its actual vocabulary size (training stops early when no pair occurs
/// twice).
///
/// Byte-level with the full 256-byte initial alphabet, so any UTF-8 text encodes (no unknown
/// token) and decodes back exactly.
pub(crate) fn train<'a>(
    texts: impl Iterator<Item = &'a str> + Send,
    vocab_size: usize,
) -> Result<(String, usize), WorldError> {
    let trainer = BpeTrainerBuilder::new()
        .vocab_size(vocab_size)
        .min_frequency(2)
        .show_progress(false)
        .special_tokens(vec![AddedToken::from(EOS_TOKEN, true)])
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build();
    let mut trainer = TrainerWrapper::BpeTrainer(trainer);
    // No prefix space: the reference template puts the response right after "Assistant: ", and
    // a GPT-2-style tokenizer keeps the leading space inside the next word's token.
    let byte_level = ByteLevel::default().add_prefix_space(false).trim_offsets(true);
    let mut tokenizer: Impl = TokenizerBuilder::new()
        .with_model(ModelWrapper::BPE(BPE::default()))
        .with_normalizer(None)
        .with_pre_tokenizer(Some(PreTokenizerWrapper::ByteLevel(byte_level)))
        .with_post_processor(Some(PostProcessorWrapper::ByteLevel(byte_level)))
        .with_decoder(Some(DecoderWrapper::ByteLevel(byte_level)))
        .build()
        .map_err(|source| WorldError::Tokenizer { source })?;
    tokenizer
        .train(&mut trainer, texts)
        .map_err(|source| WorldError::Tokenizer { source })?;
    let mut json = tokenizer
        .to_string(true)
        .map_err(|source| WorldError::Tokenizer { source })?;
    json.push('\n');
    Ok((json, tokenizer.get_vocab_size(true)))
}

/// The `tokenizer_config.json` beside it, in the keys transformers reads.
pub(crate) fn config_json(model_max_length: usize) -> serde_json::Value {
    serde_json::json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": EOS_TOKEN,
        "eos_token": EOS_TOKEN,
        "pad_token": EOS_TOKEN,
        "unk_token": null,
        "add_bos_token": false,
        "add_eos_token": false,
        "clean_up_tokenization_spaces": false,
        "model_max_length": model_max_length,
    })
}
