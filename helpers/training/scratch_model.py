"""A T5 describer built from nothing: a tokenizer trained on the pairs, and a small T5.

The tokenizer is SentencePiece-style (metaspace word boundaries, numbers kept apart from words,
byte fallback, so any word can still be spelled), trained with the `tokenizers` library as BPE and saved whole as
`tokenizer.json`. BPE rather than Unigram: on this low-diversity corpus a Unigram vocabulary
collapses to ~250 pieces and splits even "of" into "o" + "f", so descriptions come out ~40%
longer in tokens and train more slowly (`train_word_tokenizer` is a Unigram model with fixed
whole-word pieces instead, the `tokenizer="words"` option). `T5Tokenizer(vocab_file=...)` is
avoided on purpose: in transformers 5 that path can silently yield a tokenizer of 4 tokens.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Collection, Iterable

from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors, trainers
from tokenizers.models import BPE, Unigram
from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

from helpers.text.lexicon import plural

PAD, EOS, UNK = "<pad>", "</s>", "<unk>"  # ids 0, 1, 2, as in T5
BYTE_TOKENS = [f"<0x{value:02X}>" for value in range(256)]  # byte fallback pieces

TOKENIZER_KINDS = ("bpe", "words")  # see train_tokenizer and train_word_tokenizer
POSITION_INITS = ("local", "random")  # how a scratch model's relative-position tables start (see local_position_bias)
# Presets sized for CPU training in minutes (tiny) or a better model on a GPU (small). Measured on
# the demo: two layers each way train 1.4x faster per example than three and reach the same
# faithfulness in the same number of steps; medium (wider, 2.3M parameters, 1.4x tiny's time per step)
# was no more faithful than tiny in make demo's 8 epochs (docs/measurements/size_medium_demo_cpu.json).
# Keep encoder and decoder depths equal: with transformers 5 an encoder of 1 layer and a decoder of 3
# failed in generate (IndexError in the cache update).
PRESETS: dict[str, dict] = {
    "tiny": {"d_model": 128, "d_ff": 512, "num_layers": 2, "num_decoder_layers": 2, "num_heads": 4, "d_kv": 32},
    "medium": {"d_model": 192, "d_ff": 768, "num_layers": 2, "num_decoder_layers": 2, "num_heads": 4, "d_kv": 48},
    "small": {"d_model": 256, "d_ff": 1024, "num_layers": 4, "num_decoder_layers": 4, "num_heads": 4, "d_kv": 64},
}
# The published shapes of the users' models (google/flan-t5-*'s config.json), for random-init
# benchmarks and for training a model of that shape from scratch: untied output layer, as flan-t5.
SHAPES: dict[str, dict] = {
    name: {
        "d_model": d_model,
        "d_ff": d_ff,
        "num_layers": layers,
        "num_decoder_layers": layers,
        "num_heads": heads,
        "d_kv": 64,
    }
    for name, d_model, d_ff, layers, heads in (
        ("flan-t5-small", 512, 1024, 8, 6),
        ("flan-t5-base", 768, 2048, 12, 12),
        ("flan-t5-large", 1024, 2816, 24, 16),
    )
}


def train_tokenizer(texts: Iterable[str], vocab_size: int = 1000, seed: int = 0) -> PreTrainedTokenizerFast:
    """Trains a byte-fallback BPE tokenizer on the texts and wraps it for transformers.

    Args:
        texts: Training texts (model inputs and descriptions).
        vocab_size: Target number of learned pieces (a small corpus may give fewer); the 256
            byte pieces and 3 special tokens come on top.
        seed: Unused by the deterministic BPE trainer; kept so every builder takes a seed.

    Returns:
        A fast tokenizer with `<pad>`=0, `</s>`=1, `<unk>`=2, that appends `</s>`.
    """
    del seed  # BPE training is deterministic
    normalizer, pre_tokenizer = _backend_parts()
    learner = Tokenizer(BPE(unk_token=UNK))
    learner.normalizer, learner.pre_tokenizer = normalizer, pre_tokenizer
    learner.train_from_iterator(
        list(texts), trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, EOS, UNK], show_progress=False)
    )
    vocab = learner.get_vocab()
    for token in BYTE_TOKENS:
        vocab.setdefault(token, len(vocab))
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in _merges(learner)]
    return _wrap(Tokenizer(BPE(vocab=vocab, merges=merges, unk_token=UNK, byte_fallback=True)))


def _backend_parts():
    """Normaliser and pre-tokeniser shared by both tokenizer kinds."""
    normalizer = normalizers.Sequence([normalizers.Strip(), normalizers.Replace(Regex(r"\s+"), " ")])
    pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always"),
            pre_tokenizers.Punctuation(behavior="isolated"),
            # A number stays one pre-token, so the counts the pairs use (up to ~30) become single pieces:
            # "16" maps to "sixteen" in one step, and the model cannot drop or repeat one of its digits.
            pre_tokenizers.Digits(individual_digits=False),
        ]
    )
    return normalizer, pre_tokenizer


def _wrap(backend: Tokenizer) -> PreTrainedTokenizerFast:
    backend.normalizer, backend.pre_tokenizer = _backend_parts()
    backend.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(content=" ", left=1)]
    )
    backend.post_processor = processors.TemplateProcessing(
        single=f"$A {EOS}", pair=f"$A {EOS} $B {EOS}", special_tokens=[(EOS, 1)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token=PAD, eos_token=EOS, unk_token=UNK, model_max_length=512
    )


def _without_names(text: str, names: Collection[str]) -> str:
    """The text with every occurrence of the names (and of a plural-looking longer form) removed."""
    if not names:
        return text
    forms = set(names) | {plural(name) for name in names}  # irregular plurals too: "guman" -> "gumen"
    alternatives = "|".join(re.escape(name) for name in sorted(forms, key=len, reverse=True))
    return re.sub(rf"(?i)\b(?:{alternatives})[a-z]*\b", " ", text)


def train_word_tokenizer(
    texts: Iterable[str],
    copied_names: Iterable[Collection[str]] | None = None,
    vocab_size: int = 1000,
    min_count: int = 2,
) -> PreTrainedTokenizerFast:
    """Whole words for the describer's own vocabulary, single letters for every name it copies.

    The pairs mix a closed vocabulary (the grammar's words, number words, the five classes) with
    names copied from the input. A learned subword vocabulary cuts each such name into rare
    fragments; here every word that is not part of a copied name, seen `min_count` times, is one
    piece, and anything else is spelled in single characters ("kite" -> "▁k i t e"), so copying
    any name is the same small map from letters to letters. A Unigram model with fixed scores
    does the segmentation (SentencePiece's model; byte fallback for characters never seen).
    Measured on the demo, the tiny model still copied held-out names badly this way (9% of the
    held-out-names stress group right, vs 0-3% with BPE); slots (`helpers.text.slots`) solved that,
    and with slots BPE trained better, so this is the non-default `tokenizer="words"`.

    Args:
        texts: Training texts (model inputs and descriptions).
        copied_names: For each text, the names it copies (left out of the word vocabulary);
            None: none.
        vocab_size: Most whole words kept (the most frequent).
        min_count: Fewest occurrences for a word to become one piece.

    Returns:
        A fast tokenizer with `<pad>`=0, `</s>`=1, `<unk>`=2, that appends `</s>`.
    """
    texts = list(texts)
    names_per_text = list(copied_names) if copied_names is not None else [()] * len(texts)
    normalizer, pre_tokenizer = _backend_parts()
    words: Counter[str] = Counter()
    characters: set[str] = set()
    for text, names in zip(texts, names_per_text, strict=True):
        normalized = normalizer.normalize_str(text)
        characters.update(normalized.replace(" ", ""))
        words.update(
            piece for piece, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(_without_names(text, names)))
        )
    kept = [(word, count) for word, count in words.most_common(vocab_size) if count >= min_count and len(word) > 1]
    total = sum(count for _, count in kept) or 1
    # Any whole word beats spelling, and fewer letters beat more (a letter costs more than any word).
    pieces = [(word, max(math.log(count / total), -30.0)) for word, count in kept]
    letters = sorted(characters | {"▁"})
    whole = {word for word, _ in kept}
    pieces += [(piece, -100.0) for piece in letters + [f"▁{c}" for c in letters if c != "▁"] if piece not in whole]
    vocab = [(PAD, 0.0), (EOS, 0.0), (UNK, 0.0)] + [(token, -200.0) for token in BYTE_TOKENS] + pieces
    return _wrap(Tokenizer(Unigram(vocab, unk_id=2, byte_fallback=True)))


def _merges(tokenizer: Tokenizer) -> list:
    """The learned merge rules, read from the tokenizer's serialised form."""
    import json

    return json.loads(tokenizer.to_str())["model"]["merges"]


def build_model(
    tokenizer: PreTrainedTokenizerFast,
    size: str = "tiny",
    seed: int = 0,
    dropout: float = 0.0,
    position_init: str = "local",
) -> T5ForConditionalGeneration:
    """A randomly initialised T5 of a preset size or a published shape (`SHAPES`), with the tokenizer's vocabulary.

    Raises:
        ValueError: Unknown preset.
    """
    if size not in PRESETS and size not in SHAPES:
        raise ValueError(f"scratch_size must be one of {sorted(PRESETS) + sorted(SHAPES)}, got {size!r}")
    if position_init not in POSITION_INITS:
        raise ValueError(f"position_init must be one of {POSITION_INITS}, got {position_init!r}")
    import torch

    torch.manual_seed(seed)
    config = T5Config(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
        feed_forward_proj="gated-gelu",
        dropout_rate=dropout,
        # presets: output words share input embeddings (easier copying of labels); shapes: as flan-t5
        tie_word_embeddings=size in PRESETS,
        **(PRESETS.get(size) or SHAPES[size]),
    )
    model = T5ForConditionalGeneration(config)
    if position_init == "local":
        local_position_bias(model)
    return model


def _bucket_distances(bidirectional: bool, num_buckets: int, max_distance: int) -> list[int]:
    """For each relative-position bucket, the signed key-minus-query distance closest to zero."""
    import torch
    from transformers.models.t5.modeling_t5 import T5Attention

    span = torch.arange(-4 * max_distance, 4 * max_distance + 1)
    buckets = T5Attention._relative_position_bucket(
        span, bidirectional=bidirectional, num_buckets=num_buckets, max_distance=max_distance
    )
    nearest: dict[int, int] = {}
    for distance, bucket in zip(span.tolist(), buckets.tolist()):
        if bucket not in nearest or abs(distance) < abs(nearest[bucket]):
            nearest[bucket] = distance
    return [nearest.get(b, 4 * max_distance) for b in range(num_buckets)]


# Per-head (preferred distance, slope): attention to a key at distance d (key minus query position)
# starts at -slope * |d - preferred|. The encoder gets a head on the previous token, one on the next
# token, a broad one and a position-free one; the decoder gets recency heads of several widths.
ENCODER_HEADS = ((-1, 2.0), (1, 2.0), (0, 0.1), (0, 0.0))
DECODER_HEADS = ((0, 1.0), (0, 0.5), (0, 0.1), (0, 0.0))


def local_position_bias(model: T5ForConditionalGeneration) -> None:
    """Starts T5's learned relative-position tables from local patterns instead of noise.

    Randomly initialised tables start near zero and, measured on the demo pairs, hardly move in a
    few thousand steps (their spread stayed at its initial 0.1): the encoder then stays close to
    a bag of words and the model cannot tell which count belongs to which label, or which category
    comes next. ALiBi-like slopes (Press et al., 2022) give each head a preferred distance from the
    start; the tables stay trainable. Heads beyond the listed patterns repeat them.
    """
    import torch

    config = model.config
    for stack, bidirectional, heads in ((model.encoder, True, ENCODER_HEADS), (model.decoder, False, DECODER_HEADS)):
        table = stack.block[0].layer[0].SelfAttention.relative_attention_bias.weight
        distances = _bucket_distances(
            bidirectional, config.relative_attention_num_buckets, config.relative_attention_max_distance
        )
        values = torch.tensor(
            [
                [
                    -slope * abs(d - preferred)
                    for preferred, slope in (heads[h % len(heads)] for h in range(table.shape[1]))
                ]
                for d in distances
            ]
        )
        with torch.no_grad():
            table.copy_(values.to(table.dtype))
