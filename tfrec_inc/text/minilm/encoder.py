"""all-MiniLM-L6-v2 rebuilt in plain TensorFlow ops: strings -> L2-normalised [batch, 384].

:class:`~tfrec_inc.text.minilm.tokenizer.MiniLMTokenizer` -> BERT (6 layers, hidden 384,
12 heads, exact GELU, LayerNorm eps 1e-12, additive attention mask) -> attention-masked
mean pooling -> L2 normalisation, as ``SentenceTransformer("all-MiniLM-L6-v2").encode``
(its ``Normalize`` module included). Weights are read from ``model.safetensors`` without
torch. There is no dropout: the forward pass is the inference one, also when fine-tuned.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from tfrec_inc.text.minilm.model_files import DEFAULT_MAX_LENGTH, load_config
from tfrec_inc.text.minilm.tokenizer import MiniLMTokenizer

EMBEDDING_DIM = 384


class MiniLMEncoder(tf.Module):
    """all-MiniLM-L6-v2 sentence encoder: strings -> L2-normalised [batch, 384].

    Args:
      model_dir: directory with model.safetensors, vocab.txt and config.json (see
        :func:`~tfrec_inc.text.minilm.model_files.model_files_dir`).
      max_length: maximum tokens per sentence including ``[CLS]``/``[SEP]`` (the model
        was trained with 256; position embeddings allow up to 512).

    Example (builds the whole 22M-parameter encoder, about 10 s, so not run by the doctests;
    ``tests/test_minilm.py`` checks its outputs against sentence-transformers):
      >>> from tfrec_inc.text.minilm.model_files import model_files_dir
      >>> enc = MiniLMEncoder(model_files_dir())  # doctest: +SKIP
      >>> enc(tf.constant(["a film about space"])).shape  # doctest: +SKIP
      TensorShape([1, 384])
    """

    # Hub's reusable-SavedModel convention reads these as plain *attributes* of the
    # loaded object; tf.Module only has them as (unsaved) properties, so shadow them.
    variables = ()
    trainable_variables = ()

    def __init__(
        self, model_dir: str, max_length: int = DEFAULT_MAX_LENGTH, name: str | None = None
    ) -> None:
        super().__init__(name=name)
        from safetensors.numpy import load_file

        root = Path(model_dir)
        config = load_config(root)
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
        self.variables = all_vars  # type: ignore[assignment]  # tf.Module's are read-only tuples
        self.trainable_variables = [v for v in all_vars if v.trainable]  # type: ignore[assignment]

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
