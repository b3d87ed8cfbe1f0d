"""A T5 describer built from nothing: a Unigram tokenizer trained on the pairs, and a small T5.

The tokenizer is trained with SentencePiece (Unigram, byte fallback, so any word can still be
spelled) and handed to transformers as a `tokenizers` object, saved as `tokenizer.json`.
Building it through `T5Tokenizer(vocab_file=...)` is avoided on purpose: in transformers 5 that
path can silently yield a tokenizer of 4 tokens.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import sentencepiece as spm
from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram
from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

PAD, EOS, UNK = "<pad>", "</s>", "<unk>"  # ids 0, 1, 2, as in T5

# Presets sized for CPU training in minutes (tiny) or a better model on a GPU (small).
PRESETS: dict[str, dict] = {
    "tiny": {"d_model": 128, "d_ff": 512, "num_layers": 3, "num_decoder_layers": 3, "num_heads": 4, "d_kv": 32},
    "small": {"d_model": 256, "d_ff": 1024, "num_layers": 4, "num_decoder_layers": 4, "num_heads": 4, "d_kv": 64},
}


def train_tokenizer(texts: Iterable[str], vocab_size: int = 1000, seed: int = 0) -> PreTrainedTokenizerFast:
    """Trains a SentencePiece Unigram model with byte fallback and wraps it for transformers.

    Args:
        texts: Training texts (model inputs and descriptions).
        vocab_size: Target size; a small corpus may give fewer pieces (the limit is soft).
        seed: Seed for SentencePiece's sampling.

    Returns:
        A fast tokenizer with `<pad>`=0, `</s>`=1, `<unk>`=2, that appends `</s>`.
    """
    model = io.BytesIO()
    spm.set_random_generator_seed(seed)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(list(texts)),
        model_writer=model,
        model_type="unigram",
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        byte_fallback=True,
        character_coverage=1.0,
        split_digits=True,  # numbers as digit pieces: counts the model can copy
        normalization_rule_name="identity",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
        num_threads=1,  # deterministic
        minloglevel=2,
    )
    processor = spm.SentencePieceProcessor(model_proto=model.getvalue())
    vocab = [(processor.id_to_piece(i), processor.get_score(i)) for i in range(processor.get_piece_size())]
    backend = Tokenizer(Unigram(vocab, unk_id=2, byte_fallback=True))
    backend.normalizer = normalizers.Sequence([normalizers.Strip(), normalizers.Replace(Regex(r"\s+"), " ")])
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    backend.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(content=" ", left=1)]
    )
    backend.post_processor = processors.TemplateProcessing(single=f"$A {EOS}", pair=f"$A {EOS} $B {EOS}", special_tokens=[(EOS, 1)])
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token=PAD, eos_token=EOS, unk_token=UNK, model_max_length=512)


def build_model(tokenizer: PreTrainedTokenizerFast, size: str = "tiny", seed: int = 0, dropout: float = 0.0) -> T5ForConditionalGeneration:
    """A randomly initialised T5 of a preset size, with the tokenizer's vocabulary.

    Raises:
        ValueError: Unknown preset.
    """
    if size not in PRESETS:
        raise ValueError(f"scratch_size must be one of {sorted(PRESETS)}, got {size!r}")
    import torch

    torch.manual_seed(seed)
    config = T5Config(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
        feed_forward_proj="gated-gelu",
        dropout_rate=dropout,
        tie_word_embeddings=True,  # output words share input embeddings: easier copying of labels
        **PRESETS[size],
    )
    return T5ForConditionalGeneration(config)
