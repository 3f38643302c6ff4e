"""Compression of two-tower models: TF-MOT pruning and QAT, TFLite PTQ, row-wise int8 tables.

Modules (one concept each):

- `layers`: where a tower's compressible layers are; copying a model;
- `pruning`: magnitude pruning (``prune_low_magnitude``, ``UpdatePruningStep``, strip);
- `qat`: quantization-aware training of the Dense parts (``quantize_apply``);
- `tflite`: TFLite conversion (fp32, dynamic-range, float16, full int8) and interpreters
  with the evaluation protocol's interface;
- `rowwise`: row-wise int8 embedding and lookup tables (hand-written: no library offers it
  for Keras 2);
- `size`, `latency`: what an exported artefact weighs and how fast it answers one query;
- `variants`: one variant from a trained model (shared by the study and the incremental loop);
- `study`: the compression study dispatched by `tfrec_inc.experiment.run`.
"""
