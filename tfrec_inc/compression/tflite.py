"""Towers as TFLite flatbuffers (post-training quantization) and a model that runs them.

`convert` exports one tower through ``tf.lite.TFLiteConverter.from_concrete_functions``
(variables frozen into constants, so the flatbuffer holds every table the tower reads):

- ``fp32``: no optimization (the reference artefact);
- ``dynamic``: ``Optimize.DEFAULT``: int8 weights (Dense kernels, embedding and lookup
  tables of at least 1024 elements), float activations;
- ``float16``: ``Optimize.DEFAULT`` with ``supported_types = [tf.float16]``;
- ``int8``: ``Optimize.DEFAULT`` with a representative dataset: int8 weights and
  activations, calibrated on real inputs. Ops without an int8 kernel (e.g. the cast of the
  "seen id" mask) stay float, so inputs (catalog indices) and the output vector keep their
  types; ``TFLITE_BUILTINS_INT8`` alone would refuse those ops.

`TFLiteModel` wraps the two interpreters into the interface the evaluation protocol
expects (``user_tower`` / ``item_tower`` callables on feature dicts, ``history_length``),
so `tfrec_inc.evaluation.protocol.evaluate_retrieval` scores a TFLite pair exactly like a
Keras model: item tower once over all candidates, user tower per batch of users.

Example (an untrained model of a tiny domain, scored through its TFLite twin):
  >>> from tfrec_inc import config
  >>> from tfrec_inc.models.factory import build
  >>> from tfrec_inc.prepare import prepare
  >>> cfg = config.from_dict({"data": {"options": {"num_users": 60, "num_items": 40,
  ...     "num_interactions": 600}}, "windows": {"num_windows": 2}})
  >>> prepared = prepare(cfg)
  >>> from tfrec_inc.evaluation import protocol
  >>> model = build(cfg.models[0], prepared, prepared.base_train)
  >>> pair = TFLiteModel.from_model(model, "dynamic")
  >>> records = protocol.evaluate_retrieval(pair, prepared.catalog, prepared.windows[0], cfg.evaluation)
  >>> sorted({r["group"] for r in records})
  ['all', 'cold_items', 'cold_users', 'warm_users']
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping

import numpy as np
import tensorflow as tf

MODES = ("fp32", "dynamic", "float16", "int8")


def tower_function(tower: tf.keras.Model, key: str, history_length: int = 0):
    """The tower as a concrete function of named int64 inputs, returning ``{"vector": ...}``.

    Args:
      tower: a user or item `Tower` (or anything called on a feature dict).
      key: ``"user"`` or ``"item"``.
      history_length: items of history the tower reads (0: none).

    Returns:
      A ``tf.function`` concrete function with inputs ``key`` [batch] (and ``history``
      [batch, history_length]).
    """
    spec = {key: tf.TensorSpec([None], tf.int64, name=key)}
    if history_length:
        spec["history"] = tf.TensorSpec([None, history_length], tf.int64, name="history")

    @tf.function(input_signature=[spec])
    def serve(features):
        return {"vector": tower(features, training=False)}

    return serve.get_concrete_function()


def _batches(samples: Mapping[str, np.ndarray], batch_size: int = 32) -> Iterator[dict[str, np.ndarray]]:
    n = len(next(iter(samples.values())))
    for start in range(0, n, batch_size):
        yield {name: np.asarray(v[start : start + batch_size]) for name, v in samples.items()}


def convert(tower: tf.keras.Model, key: str, history_length: int = 0, mode: str = "fp32",
            samples: Mapping[str, np.ndarray] | None = None) -> bytes:
    """Converts a tower to a TFLite flatbuffer.

    Args:
      tower: the tower.
      key: ``"user"`` or ``"item"``.
      history_length: items of history the tower reads.
      mode: one of `MODES`.
      samples: for ``int8``: calibration inputs ``{key: int64 [n], "history": [n, L]}``.

    Returns:
      The flatbuffer bytes.

    Example (a tiny id tower: 10 rows of 4 floats):
      >>> from tfrec_inc.models.towers import Tower
      >>> blob = convert(Tower("item", 4, rows=np.arange(10), num_rows=10), "item", mode="float16")
      >>> blob[4:8]  # the TFLite flatbuffer identifier
      b'TFL3'
    """
    if mode not in MODES:
        raise ValueError(f"unknown TFLite mode {mode!r}; choose from {', '.join(MODES)}")
    function = tower_function(tower, key, history_length)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], tower)
    if mode != "fp32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode == "int8":
        if samples is None:
            raise ValueError("int8 conversion needs calibration samples")
        converter.representative_dataset = lambda: _batches(samples)
    return converter.convert()


class TFLiteTower:
    """A tower flatbuffer in a ``tf.lite.Interpreter``, called like the Keras tower.

    Inputs are resized to the batch of each call (allocation only when the shape changes).

    Args:
      content: the flatbuffer.
      num_threads: interpreter threads (1: single-query latency without thread contention).

    Example:
      >>> from tfrec_inc.models.towers import Tower
      >>> keras_tower = Tower("item", 4, rows=np.arange(10), num_rows=10)
      >>> tower = TFLiteTower(convert(keras_tower, "item"))
      >>> tower({"item": np.array([1, 2])}).shape
      (2, 4)
      >>> np.allclose(tower({"item": np.array([1, 2])}), keras_tower({"item": np.array([1, 2])}))
      True
    """

    def __init__(self, content: bytes, num_threads: int = 1) -> None:
        with warnings.catch_warnings():
            # TF 2.20 announces tf.lite.Interpreter's move to ai-edge-litert on every creation.
            warnings.simplefilter("ignore")
            self.interpreter = tf.lite.Interpreter(model_content=content, num_threads=num_threads)
        runner = self.interpreter.get_signature_runner()
        self.inputs = {name: d["index"] for name, d in runner.get_input_details().items()}
        self.output = runner.get_output_details()["vector"]["index"]
        del runner  # it holds tensor references that would block resizing
        self._shapes: dict[str, tuple[int, ...]] = {}  # tensors are allocated on the first call

    def __call__(self, features: Mapping[str, np.ndarray], training: bool | None = None) -> np.ndarray:
        values = {name: np.asarray(features[name], dtype=np.int64) for name in self.inputs}
        shapes = {name: v.shape for name, v in values.items()}
        if shapes != self._shapes:
            for name, shape in shapes.items():
                self.interpreter.resize_tensor_input(self.inputs[name], list(shape))
            self.interpreter.allocate_tensors()
            self._shapes = shapes
        for name, value in values.items():
            self.interpreter.set_tensor(self.inputs[name], value)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output).copy()


class TFLiteModel:
    """A user/item tower pair of TFLite flatbuffers with the evaluation protocol's interface.

    Args:
      user: the user tower flatbuffer.
      item: the item tower flatbuffer.
      history_length: items of history the user tower reads.

    Attributes:
      user_tower, item_tower: `TFLiteTower` callables (feature dict -> float32 vectors).
      flatbuffers: ``(user, item)`` bytes (the artefact whose size is reported).
    """

    def __init__(self, user: bytes, item: bytes, history_length: int = 0) -> None:
        self.flatbuffers = (user, item)
        self.user_tower = TFLiteTower(user)
        self.item_tower = TFLiteTower(item)
        self.history_length = history_length

    @classmethod
    def from_model(cls, model, mode: str = "fp32", user_samples: Mapping[str, np.ndarray] | None = None,
                   item_samples: Mapping[str, np.ndarray] | None = None) -> TFLiteModel:
        """Converts both towers of a Keras two-tower model (see `convert`)."""
        length = model.history_length
        user = convert(model.user_tower, "user", length, mode, user_samples)
        item = convert(model.item_tower, "item", 0, mode, item_samples)
        return cls(user, item, length)
