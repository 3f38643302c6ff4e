"""Hugging Face BERT tokenisation (uncased) replicated with TF string ops + tensorflow-text.

The reference is the Rust ``tokenizers`` pipeline that sentence-transformers loads for
all-MiniLM-L6-v2 (the model ships tokenizer.json): special tokens matched on the raw
text, BertNormalizer (clean_text, handle_chinese_chars, strip_accents: NFD then drop
marks, lowercase char by char), BertPreTokenizer (split on whitespace/punctuation),
WordPiece, ``[CLS] ... [SEP]`` and truncation. Its character classes come from old
(Unicode 8-era) tables while TF's RE2 ``\\p{..}`` classes are Unicode 15-era, so they
are spelled out in the generated :mod:`tfrec_inc.text.minilm.unicode_tables`. Token ids
equal the Hugging Face tokenizer's on every Unicode code point (tests/test_minilm.py).

Example:
  >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "star", "wars", "##s", "(", ")"]
  >>> tok = MiniLMTokenizer(vocab, max_length=8)
  >>> tok(tf.constant(["Star Wars!", "STARS [SEP] (x)"])).to_list()
  [[2, 5, 6, 1, 3], [2, 5, 7, 3, 8, 1, 9, 3]]
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf
import tensorflow_text as tf_text

from tfrec_inc.errors import DataError
from tfrec_inc.text.minilm.lowercase import lower_table
from tfrec_inc.text.minilm.model_files import DEFAULT_MAX_LENGTH
from tfrec_inc.text.minilm.unicode_tables import (
    CJK_CLASS,
    DROP_CLASS,
    MARK_CLASS,
    PUNCT_CLASS,
    SPACE_CLASS,
)

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

# Special tokens are matched on the raw text before any normalisation (added tokens
# with "normalized": false), so "a[SEP]b" keeps id 102.
_SPECIAL_RE = r"\[(?:PAD|UNK|CLS|SEP|MASK)\]"
# HF WordPiece max_input_chars_per_word (characters, not bytes).
_MAX_WORD_CHARS = 100


def read_vocab(path: str | Path) -> list[str]:
    """Reads a WordPiece vocabulary, one token a line (line i has id i).

    Args:
      path: the vocab.txt file.

    Returns:
      The tokens in id order.

    Example:
      >>> from tfrec_inc.text.minilm.model_files import model_files_dir
      >>> read_vocab(Path(model_files_dir(), "vocab.txt"))[100:103]
      ['[UNK]', '[CLS]', '[SEP]']
    """
    # split("\n") rather than splitlines(): vocab entries may contain \x85 or U+2028,
    # which splitlines() would treat as line breaks.
    lines = Path(path).read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


class MiniLMTokenizer(tf.Module):
    """Hugging Face ``BertTokenizerFast`` (uncased) replicated with TF string ops.

    Reproduces the Rust ``tokenizers`` pipeline used by sentence-transformers: special
    token matching on raw text, BertNormalizer, BertPreTokenizer, WordPiece
    (``max_input_chars_per_word=100``), ``[CLS] ... [SEP]`` and truncation.

    Args:
      vocab: the WordPiece vocabulary (line i of vocab.txt has id i).
      max_length: maximum number of tokens including ``[CLS]`` and ``[SEP]``.

    Example:
      >>> from tfrec_inc.text.minilm.model_files import model_files_dir
      >>> tok = MiniLMTokenizer.from_model_dir(model_files_dir())
      >>> tok(tf.constant(["Hello, world!"])).to_list()
      [[101, 7592, 1010, 2088, 999, 102]]
    """

    @classmethod
    def from_model_dir(cls, model_dir: str, max_length: int = DEFAULT_MAX_LENGTH) -> MiniLMTokenizer:
        """Builds the tokenizer from ``model_dir/vocab.txt``.

        Args:
          model_dir: directory holding vocab.txt (see
            :func:`~tfrec_inc.text.minilm.model_files.model_files_dir`).
          max_length: maximum number of tokens including ``[CLS]`` and ``[SEP]``.

        Returns:
          The tokenizer.

        Example:
          >>> from tfrec_inc.text.minilm.model_files import model_files_dir
          >>> MiniLMTokenizer.from_model_dir(model_files_dir(), max_length=16).max_length
          16
        """
        return cls(read_vocab(Path(model_dir, "vocab.txt")), max_length)

    def __init__(
        self, vocab: list[str], max_length: int = DEFAULT_MAX_LENGTH, name: str | None = None
    ) -> None:
        super().__init__(name=name)
        if max_length < 2:
            raise ValueError(f"max_length must be >= 2 ([CLS] and [SEP]), got {max_length}")
        index = {token: i for i, token in enumerate(vocab)}
        missing = [t for t in SPECIAL_TOKENS if t not in index]
        if missing:
            raise DataError(f"vocab.txt lacks special tokens {missing}")
        self._special_ids = {t: index[t] for t in SPECIAL_TOKENS}
        self._lower_table = lower_table()
        self.max_length = max_length
        # no_pretokenization: words are split by the HF-faithful regexes below, not by
        # tensorflow-text's own BERT pre-tokenizer (which differs on Unicode). The byte
        # limit is only a safety net: the 100-*character* rule is applied beforehand.
        self._wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=vocab,
            suffix_indicator="##",
            max_bytes_per_word=4 * _MAX_WORD_CHARS + 4,
            unknown_token="[UNK]",
            no_pretokenization=True,
            support_detokenization=False,
            token_out_type=tf.int64,
        )

    def normalize(self, text: tf.Tensor) -> tf.Tensor:
        """Applies BertNormalizer: clean, space out CJK, NFD, strip marks, lower-case.

        Args:
          text: tf.string tensor of any shape, valid UTF-8 without NUL.

        Returns:
          tf.string tensor of the same shape; all whitespace is a plain space.
        """
        # clean_text: drop NUL, U+FFFD, Cc (but \t \n \r), Cf and Co, then map whitespace
        # to " " (\x0b, \x0c, \x85 are Cc and so dropped, as in HF: filter runs first).
        text = tf.strings.regex_replace(text, f"[{DROP_CLASS}]", "")
        text = tf.strings.regex_replace(text, f"[{SPACE_CLASS}]", " ")
        text = tf.strings.regex_replace(text, f"([{CJK_CLASS}])", r" \1 ")
        # strip_accents. ICU's NFD differs from tokenizers' only on ~20 letters of
        # scripts added in Unicode 13/16, which the vocabulary cannot spell anyway.
        text = tf_text.normalize_utf8(text, "NFD")
        text = tf.strings.regex_replace(text, f"[{MARK_CLASS}]", "")
        return self._lowercase(text)

    def _lowercase(self, text: tf.Tensor) -> tf.Tensor:
        # Not tf.strings.lower: ICU lower-cases in context (word-final Σ -> ς) and with
        # older tables than tokenizers (Rust char::to_lowercase, Σ -> σ always).
        chars = tf.strings.unicode_decode(text, "UTF-8")
        flat = chars.flat_values
        size = self._lower_table.shape[0]
        lowered = tf.gather(tf.constant(self._lower_table), tf.minimum(flat, size - 1))
        flat = tf.where(flat < size, lowered, flat)
        return tf.strings.unicode_encode(chars.with_flat_values(flat), "UTF-8")

    def __call__(self, sentences: tf.Tensor) -> tf.RaggedTensor:
        """Tokenises a batch of sentences.

        Args:
          sentences: 1-D tf.string tensor.

        Returns:
          int64 RaggedTensor [batch, (tokens)], each row ``[CLS] ... [SEP]`` with at most
          ``max_length`` tokens.
        """
        sentences = tf.convert_to_tensor(sentences, tf.string)
        # Python str input to HF is always valid Unicode; make TF input so too, so the
        # regex ops never see broken UTF-8 (U+FFFD is then dropped like HF does).
        sentences = tf.strings.unicode_transcode(
            sentences, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
        )
        # regex_split stops at NUL; HF drops NUL and U+FFFD alike, so swap it for U+FFFD
        # (which, unlike deleting it, still keeps "[SE\0P]" from matching "[SEP]").
        sentences = tf.strings.regex_replace(sentences, "\x00", "\ufffd")
        segments = tf_text.regex_split(
            sentences, delim_regex_pattern=_SPECIAL_RE, keep_delim_regex_pattern=_SPECIAL_RE
        )  # [batch, (segments)]
        seg = segments.flat_values
        # A segment equal to a special token can only be a matched delimiter.
        special_id = tf.fill(tf.shape(seg), tf.constant(-1, tf.int64))
        for token, token_id in self._special_ids.items():
            special_id = tf.where(tf.equal(seg, token), tf.constant(token_id, tf.int64), special_id)
        is_special = special_id >= 0

        normalized = self.normalize(tf.where(is_special, "", seg))
        words = tf_text.regex_split(
            normalized,
            delim_regex_pattern=f" +|[{PUNCT_CLASS}]",
            keep_delim_regex_pattern=f"[{PUNCT_CLASS}]",
        )  # [segments, (words)]
        too_long = tf.strings.length(words.flat_values, unit="UTF8_CHAR") > _MAX_WORD_CHARS
        words = words.with_flat_values(tf.where(too_long, "[UNK]", words.flat_values))
        pieces = self._wordpiece.tokenize(words).merge_dims(1, 2)  # [segments, (tokens)]

        specials = tf.ragged.boolean_mask(special_id[:, None], is_special[:, None])
        per_segment = tf.concat([pieces, specials], axis=1)  # one of the two is empty
        ids = tf.RaggedTensor.from_row_splits(per_segment, segments.row_splits).merge_dims(1, 2)

        ids = ids[:, : self.max_length - 2]
        batch = tf.shape(ids.row_lengths())[0]
        cls = tf.fill([batch, 1], tf.constant(self._special_ids["[CLS]"], tf.int64))
        sep = tf.fill([batch, 1], tf.constant(self._special_ids["[SEP]"], tf.int64))
        return tf.concat([cls, ids, sep], axis=1)
