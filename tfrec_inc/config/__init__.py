"""Experiment config: a typed, frozen schema loaded from YAML.

Unknown keys, wrong types and out-of-range values are `ConfigError`s that name the
key path (``models[1].optimizer``) and, for typos, suggest the closest valid key.
``--set a.b=c`` overrides are applied to the raw YAML before validation, so they are
checked exactly like the file.

The package is the bottom layer of `tfrec_inc` (it imports only `tfrec_inc.errors`):
`schema`, `model` and `studies` hold the constants and the section dataclasses, each with the
``check`` of its own rules; `rules` the rules across sections and the study kind;
`reader` the YAML reading, overrides and the typed reader. Everything public is
re-exported here.

Example:
  >>> cfg = load("experiments/quickstart.yaml", overrides=["seeds=[0]"])
  >>> cfg.data.dataset
  'synthetic'
"""

from tfrec_inc.config.model import ModelConfig, model_label
from tfrec_inc.config.reader import apply_override, from_dict, load, save, type_name
from tfrec_inc.config.rules import GIVEN_SPLIT_DATASETS, check_config, resolve_study
from tfrec_inc.config.schema import (
    COMPRESSION_VARIANTS,
    DATASETS,
    DISTRIBUTE,
    EWC_MODES,
    GROUPS,
    HISTORY_POOLING,
    MODEL_TYPES,
    OPTIMIZERS,
    PARAMETER_SERVER_UNSUPPORTED,
    POPULARITY_FORMS,
    RATING_TYPES,
    REFERENCE_TYPES,
    ROW_INITS,
    STRATEGIES,
    STUDIES,
    TRAINED_TYPES,
    TRANSFER_MODES,
    WINDOW_MODES,
    DataConfig,
    EncoderConfig,
    EvaluationConfig,
    ReportConfig,
    RuntimeConfig,
    WindowsConfig,
)
from tfrec_inc.config.studies import CompressionConfig, ExperimentConfig, IncrementalConfig, TransferConfig
from tfrec_inc.errors import ConfigError

__all__ = [
    "RATING_TYPES",
    "REFERENCE_TYPES",
    "COMPRESSION_VARIANTS",
    "DATASETS",
    "DISTRIBUTE",
    "EWC_MODES",
    "GIVEN_SPLIT_DATASETS",
    "GROUPS",
    "HISTORY_POOLING",
    "MODEL_TYPES",
    "OPTIMIZERS",
    "PARAMETER_SERVER_UNSUPPORTED",
    "POPULARITY_FORMS",
    "ROW_INITS",
    "STRATEGIES",
    "STUDIES",
    "TRAINED_TYPES",
    "TRANSFER_MODES",
    "WINDOW_MODES",
    "CompressionConfig",
    "ConfigError",
    "DataConfig",
    "EncoderConfig",
    "EvaluationConfig",
    "ExperimentConfig",
    "IncrementalConfig",
    "ModelConfig",
    "ReportConfig",
    "RuntimeConfig",
    "TransferConfig",
    "WindowsConfig",
    "apply_override",
    "check_config",
    "from_dict",
    "load",
    "model_label",
    "resolve_study",
    "save",
    "type_name",
]
