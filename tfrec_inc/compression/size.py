"""Size on disk of an exported tower pair: raw bytes and gzip bytes.

gzip (level 9) stands in for the transport/storage compression a deployment would apply;
it is also what makes pruning visible: a pruned float model is as large as the dense one
byte for byte, but its runs of zeros compress.
"""

from __future__ import annotations

import dataclasses
import gzip
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfrec_inc.compression.tflite import tower_function


@dataclasses.dataclass(frozen=True)
class Size:
    """Bytes of an artefact.

    Attributes:
      raw: bytes on disk.
      gzip: bytes after gzip -9 (each file compressed on its own).
    """

    raw: int
    gzip: int


def blobs_size(blobs: Iterable[bytes]) -> Size:
    """Size of in-memory files, e.g. the two towers' TFLite flatbuffers.

    Example:
      >>> blobs_size([b"\\0" * 1000]).raw
      1000
    """
    blobs = list(blobs)
    return Size(sum(len(b) for b in blobs), sum(len(gzip.compress(b, 9)) for b in blobs))


def folder_size(folder: str | Path) -> Size:
    """Size of every file under ``folder`` (e.g. a SavedModel directory)."""
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
    return blobs_size(p.read_bytes() for p in files)


def saved_model_size(model) -> Size:
    """Size of both towers exported as TF SavedModels (serving signature only).

    Each tower is saved as a ``tf.Module`` holding its variables and the serving function
    (constants such as text-vector tables live in the graph), not as a Keras model: the
    Keras SavedModel format would add traced call functions of every layer.

    Args:
      model: a Keras two-tower model.

    Returns:
      The summed `Size` of the two SavedModel directories.
    """
    sizes = []
    with tempfile.TemporaryDirectory(prefix="tfrec_inc_savedmodel_") as tmp:
        for key, tower, length in (("user", model.user_tower, model.history_length),
                                   ("item", model.item_tower, 0)):
            module = tf.Module()
            module.tracked = list(tower.variables)
            function = tower_function(tower, key, length)
            path = Path(tmp) / key
            tf.saved_model.save(module, str(path), signatures={"serving_default": function})
            sizes.append(folder_size(path))
    return Size(sum(s.raw for s in sizes), sum(s.gzip for s in sizes))


def constant_bytes(flatbuffer: bytes) -> dict[str, int]:
    """Bytes of a TFLite model's constant tensors (weights and tables) by dtype.

    Shows what quantization can and cannot shrink: e.g. ``int64`` catalog-index -> row
    maps stay 8 bytes per entry in every variant.

    Args:
      flatbuffer: a TFLite model.

    Returns:
      ``{"float32": ..., "int8": ..., "int64": ...}`` (dtype names of the tensors).

    Example (a tiny id tower: a float32 [10, 4] table, an int64 [10] index -> row map, and
    int32 shape constants; float16 conversion halves only the table):
      >>> from tfrec_inc.compression.tflite import convert
      >>> from tfrec_inc.models.towers import Tower
      >>> tower = Tower("item", 4, rows=np.arange(10), num_rows=10)
      >>> sorted(constant_bytes(convert(tower, "item")).items())
      [('float32', 160), ('int32', 24), ('int64', 80)]
      >>> sorted(constant_bytes(convert(tower, "item", mode="float16")).items())
      [('float16', 80), ('int32', 24), ('int64', 80)]
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    out: dict[str, int] = {}
    for detail in interpreter.get_tensor_details():
        try:
            value = interpreter.get_tensor(detail["index"])  # only constants have data before allocation
        except ValueError:
            continue
        if value.size > 1:
            name = np.dtype(detail["dtype"]).name
            out[name] = out.get(name, 0) + int(value.nbytes)
    return out
