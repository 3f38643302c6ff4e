"""Where training runs: the ``tf.distribute`` strategy of the ``runtime`` config section.

`start` turns a `RuntimeConfig` into a `Runtime` once per process, before TensorFlow
runs its first op: logical CPU devices (``mirrored`` without GPUs) and collective ops
(``multi_worker``) can only be set up then. Models are built and compiled under
``runtime.strategy.scope()``; Keras ``fit`` then splits every batch of the pipeline
(``batch_size`` is the *global* batch) across the replicas and sums their gradients.

Loss scaling under several replicas (``num_replicas_in_sync`` = R):

- The retrieval loss is TFRS's in-batch softmax cross-entropy *summed* over the batch, so
  the summed replica gradients are the global batch's gradient, with no rescaling. Each
  replica sees only ``batch_size / R`` items, so by default (``cross_replica_negatives``)
  `tfrec_inc.models.retrieval` all-gathers the items of every replica: each user is
  scored against the whole global batch, as on one device.
- Mean losses (rating MSE) and whole-model terms (the EWC penalty) are divided by R with
  `replica_share`, so their summed gradients count once.

Example (one device; ``start(RuntimeConfig(distribute="mirrored", devices=2))`` gives
``rt.replicas == 2`` the same way, but only in a fresh process, before any TensorFlow op):
  >>> from tfrec_inc import config
  >>> from tfrec_inc.models.factory import build
  >>> from tfrec_inc.prepare import prepare
  >>> cfg = config.from_dict({"data": {"options": {"num_users": 60, "num_items": 40,
  ...     "num_interactions": 600}}, "windows": {"num_windows": 2}})
  >>> prepared = prepare(cfg)
  >>> rt = start(cfg.runtime)
  >>> with rt.strategy.scope():
  ...     model = build(cfg.models[0], prepared, prepared.base_train)
  >>> rt.distribute, rt.replicas
  ('none', 1)
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import tensorflow as tf

from tfrec_inc.config import RuntimeConfig
from tfrec_inc.errors import ConfigError

# Collective ops are configured once per process: a second multi-worker run in the same
# process (e.g. a notebook) reuses the first run's strategy instead of re-creating it.
_MULTI_WORKER: dict[str, Runtime] = {}
_TOO_LATE = ("TensorFlow has already initialised its devices in this process; start the runtime "
             "before any TensorFlow op runs (a fresh process, e.g. `tfrec-inc run`)")


@dataclasses.dataclass(frozen=True)
class Runtime:
    """A started runtime.

    Attributes:
      strategy: build and compile models under ``strategy.scope()``.
      distribute: the config's ``distribute`` value.
      replicas: ``strategy.num_replicas_in_sync`` (every replica of every worker).
      is_chief: whether this process writes the results folder (multi-worker: the
        ``chief`` task, or worker 0 when the cluster has no chief).
      task: ``"worker:1"``-style task of a multi-worker cluster, else ``""``.
    """

    strategy: Any
    distribute: str
    replicas: int
    is_chief: bool = True
    task: str = ""

    def output_dir(self, out: Path) -> Path:
        """This process's results folder: ``out`` on the chief, a temp folder otherwise.

        Every worker runs the whole experiment (training is synchronous, evaluation is
        local), but only the chief's folder is the result, as the TF multi-worker guide
        recommends. The other workers' folders are stable per task
        (``$TMPDIR/tfrec_inc/<name>.worker1``), so ``--resume`` finds their checkpoints.
        """
        if self.is_chief:
            return out
        return Path(tempfile.gettempdir()) / "tfrec_inc" / f"{out.name}.{self.task.replace(':', '')}"

    def describe(self) -> dict[str, Any]:
        """What the manifest records about the runtime."""
        devices = [] if self.distribute == "none" else list(self.strategy.extended.worker_devices)
        return {"distribute": self.distribute, "replicas": self.replicas, "task": self.task,
                "devices": devices}


def start(cfg: RuntimeConfig) -> Runtime:
    """Creates the configured strategy; call once per process, before any TensorFlow op.

    Args:
      cfg: the ``runtime`` config section.

    Returns:
      The `Runtime`.

    Raises:
      ConfigError: TensorFlow already initialised its devices with another layout,
        ``TF_CONFIG`` is missing or invalid for ``multi_worker``, or the strategy is not
        supported.
    """
    if cfg.distribute == "none":
        return Runtime(tf.distribute.get_strategy(), "none", 1)
    if cfg.distribute == "mirrored":
        strategy = tf.distribute.MirroredStrategy(devices=_mirrored_devices(cfg.devices))
        return Runtime(strategy, "mirrored", strategy.num_replicas_in_sync)
    if cfg.distribute == "multi_worker":
        raw = os.environ.get("TF_CONFIG", "")
        if raw not in _MULTI_WORKER:
            _MULTI_WORKER[raw] = _multi_worker()
        return _MULTI_WORKER[raw]
    # parameter_server is refused by config validation (see `config.PARAMETER_SERVER_UNSUPPORTED`).
    raise ConfigError(f"runtime.distribute: {cfg.distribute!r} is not supported")


def replica_share() -> float:
    """``1 / replicas`` inside a replica of a training step, else 1.

    Multiply mean losses and whole-model penalties by it: replica gradients are summed,
    so a term every replica adds in full would otherwise count R times.
    """
    ctx = tf.distribute.get_replica_context()
    return 1.0 if ctx is None else 1.0 / ctx.num_replicas_in_sync


def _mirrored_devices(count: int | None) -> list[str] | None:
    """Device names for `MirroredStrategy`: ``count`` GPUs, or ``count`` logical CPUs."""
    if count is None:
        return None  # the strategy's default: every GPU, else the CPU
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        if len(gpus) < count:
            raise ConfigError(f"runtime.devices: {count} replicas but only {len(gpus)} GPUs are visible")
        return [f"/gpu:{i}" for i in range(count)]
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
    except RuntimeError:
        # Already initialised: fine if an earlier run in this process made the same split.
        have = len(tf.config.list_logical_devices("CPU"))
        if have != count:
            raise ConfigError(f"runtime.devices: cannot split the CPU into {count} logical devices "
                              f"(it has {have}): {_TOO_LATE}") from None
    return [d.name for d in tf.config.list_logical_devices("CPU")][:count]


def _multi_worker() -> Runtime:
    raw = os.environ.get("TF_CONFIG")
    example = ('{"cluster": {"worker": ["host1:port", "host2:port"]}, '
               '"task": {"type": "worker", "index": 0}}')
    if not raw:
        raise ConfigError("runtime.distribute: multi_worker reads its cluster from the TF_CONFIG "
                          f"environment variable, which is not set; set it in every worker process, "
                          f"e.g. TF_CONFIG='{example}'")
    try:
        tf_config = json.loads(raw)
        cluster, task = tf_config["cluster"], tf_config["task"]
        task_type, index = str(task["type"]), int(task["index"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"TF_CONFIG: expected JSON like '{example}' ({exc})") from None
    if task_type not in ("chief", "worker") or not 0 <= index < len(cluster.get(task_type, [])):
        raise ConfigError(f"TF_CONFIG: task {task_type}:{index} is not a chief or worker of the cluster "
                          f"{sorted(cluster)}")
    if "ps" in cluster:
        raise ConfigError("TF_CONFIG: the cluster has ps tasks; multi_worker is synchronous all-reduce "
                          "(chief and workers only)")
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
    except RuntimeError as exc:
        raise ConfigError(f"runtime.distribute: multi_worker: {exc}; {_TOO_LATE}") from None
    is_chief = task_type == "chief" or (task_type == "worker" and index == 0 and "chief" not in cluster)
    return Runtime(strategy, "multi_worker", strategy.num_replicas_in_sync, is_chief,
                   f"{task_type}:{index}")


def local_tf_configs(workers: int) -> list[str]:
    """``TF_CONFIG`` values for a ``multi_worker`` cluster of local processes (tests, benchmarks).

    Args:
      workers: number of worker processes, each on a free port of 127.0.0.1.

    Returns:
      One JSON string per worker (task index = position); start each process with its own.

    Example (start worker ``i`` with ``env={**os.environ, "TF_CONFIG": configs[i]}``):
      >>> configs = local_tf_configs(2)
      >>> [json.loads(c)["task"] for c in configs]
      [{'type': 'worker', 'index': 0}, {'type': 'worker', 'index': 1}]
      >>> len(json.loads(configs[0])["cluster"]["worker"])
      2
    """
    import socket

    # Bind all sockets before closing any, so the ports differ from each other.
    socks = [socket.socket() for _ in range(workers)]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    cluster = {"worker": [f"127.0.0.1:{sock.getsockname()[1]}" for sock in socks]}
    for sock in socks:
        sock.close()
    return [json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
            for i in range(workers)]
