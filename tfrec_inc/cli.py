"""The ``tfrec-inc`` command line: ``run``, ``tune``, ``table``, ``plot``, ``encoder export``, ``export``,
``docs``.

``export RESULTS_DIR --out DIR`` writes a results folder's final model as a SavedModel
recommender with a BruteForce or ScaNN index (`tfrec_inc.serving.export`).

Problems with configs or data print one line ``error: ...`` and exit with code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import tfrec_inc  # noqa: F401  (selects Keras 2 before TensorFlow loads)
from tfrec_inc.errors import TfrecIncError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfrec-inc",
        description="Incremental learning of TFRS recommenders with pretrained text encoders.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {tfrec_inc.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run one experiment config end to end",
                         description="Run an experiment: train, evaluate, write results/.")
    run.add_argument("config", help="experiment YAML, e.g. experiments/quickstart.yaml")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config value, e.g. --set seeds=[0,1] (repeatable)")
    run.add_argument("--output", metavar="DIR",
                     help="results folder (default: results/<experiment>)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.add_argument("--resume", action="store_true",
                     help="continue an interrupted run from its checkpoints (<output>.partial)")

    tune = sub.add_parser("tune", help="tune every model's search space on validation, write a config",
                          description="Search each model's `search` space (a baseline: its `grid`) with "
                                      "the same number of trials on the first window's validation slice "
                                      "(Optuna); write the config with the chosen values fixed.")
    tune.add_argument("config", help="experiment YAML with `search:` spaces")
    tune.add_argument("--trials", type=int, default=20, help="trials per model (default 20)")
    tune.add_argument("--out", required=True, metavar="FILE", help="tuned YAML to write")
    tune.add_argument("--seed", type=int, default=0, help="sampler and training seed (default 0)")
    tune.add_argument("--quiet", action="store_true", help="no progress bar")

    enc = sub.add_parser("encoder", help="export the built-in sentence encoder",
                         description="Export a built-in encoder as a TF Hub-format SavedModel.")
    enc_sub = enc.add_subparsers(dest="action", required=True, metavar="ACTION")
    exp = enc_sub.add_parser("export", help="write the SavedModel (loadable by hub.KerasLayer)")
    exp.add_argument("name", choices=["minilm"], help="minilm: all-MiniLM-L6-v2 (384-d)")
    exp.add_argument("--out", required=True, metavar="DIR", help="folder to write")
    exp.add_argument("--max-length", type=int, default=256, help="token limit (default 256)")

    ex = sub.add_parser("export", help="export a trained model as a SavedModel recommender",
                        description="Export a results folder's final model with a top-K index "
                                    "(BruteForce or ScaNN) as a TF SavedModel.")
    ex.add_argument("results", metavar="RESULTS_DIR", help="a results folder with models/")
    ex.add_argument("--out", required=True, metavar="DIR", help="export folder to write")
    ex.add_argument("--index", choices=["brute_force", "scann"], default="brute_force",
                    help="brute_force (exact, default) or scann (approximate)")
    ex.add_argument("--k-max", type=int, default=100, metavar="N",
                    help="largest k a query may ask for (default 100)")
    ex.add_argument("--model", metavar="LABEL", help="model label (needed if the run has several)")
    ex.add_argument("--strategy", metavar="S", help="strategy (needed if the run has several)")
    ex.add_argument("--seed", type=int, metavar="N", help="seed (needed if the run has several)")

    docs = sub.add_parser("docs", help="write the config reference (docs/config.md)",
                          description="Write the config reference, generated from the config schema.")
    docs.add_argument("--out", metavar="FILE", help="file to write (default: print it)")

    for name, what in (("table", "table.md/.tex (and table_incremental.md/.tex)"), ("plot", "plots/")):
        p = sub.add_parser(name, help=f"rebuild {what} from metrics.csv",
                           description=f"Rebuild {what} from the metrics.csv of results folders. "
                                       "The reports follow the study kind in manifest.json (older "
                                       "folders: config.yaml).")
        p.add_argument("results", nargs="+", metavar="RESULTS_DIR")
        p.add_argument("--output", metavar="DIR",
                       help="where to write (default: the results folder; required for several)")
        if name == "table":
            p.add_argument("--metrics", nargs="+", metavar="METRIC@K",
                           help="columns (default: from the folder's config.yaml)")
    return parser


def _table_metrics(results_dir: Path) -> list[str]:
    from tfrec_inc import config as config_lib

    cfg_path = results_dir / "config.yaml"
    if cfg_path.is_file():
        try:
            return config_lib.load(cfg_path).report.metrics
        except TfrecIncError:
            pass
    return config_lib.ReportConfig().metrics


def _rebuild(args: argparse.Namespace) -> Path:
    import pandas as pd

    from tfrec_inc import results
    from tfrec_inc.reporting.reports import study_kind, write_reports

    dirs = [Path(d) for d in args.results]
    frame = pd.concat([results.read_metrics(d) for d in dirs], ignore_index=True)
    if args.output is None and len(dirs) > 1:
        raise TfrecIncError("give --output DIR when combining several results folders")
    kinds = {d: study_kind(d) for d in dirs}
    if len(set(kinds.values())) > 1:
        raise TfrecIncError("cannot combine results folders of different study kinds: "
                            + ", ".join(f"{d} ({kind})" for d, kind in kinds.items()))
    out = Path(args.output) if args.output else dirs[0]
    # Read before writing anything, so a bad per-user file leaves no half-updated folder.
    # Folders without per_user.csv.gz still get the tables, without significance marks for them.
    found = [p for p in (results.read_per_user(d) for d in dirs) if p is not None]
    per_user = pd.concat(found, ignore_index=True) if found else None
    out.mkdir(parents=True, exist_ok=True)
    table = args.command == "table"
    columns = (args.metrics or _table_metrics(dirs[0])) if table else ()
    write_reports(frame, per_user, out, columns, study=kinds[dirs[0]], write_tables=table,
                  write_plots=not table)
    return out / "table.md" if table else out / "plots"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tfrec-inc`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            from tfrec_inc import config as config_lib
            from tfrec_inc.experiment import run

            cfg = config_lib.load(args.config, args.overrides)
            out = run(cfg, output=args.output, quiet=args.quiet, resume=args.resume)
            print(f"results: {out}")
        elif args.command == "tune":
            from tfrec_inc.tune import tune as tune_config

            print(f"wrote {tune_config(args.config, args.trials, args.out, args.seed, args.quiet)}")
        elif args.command == "encoder":
            from tfrec_inc.text.minilm import export_minilm

            if not 1 <= args.max_length <= 512:
                raise TfrecIncError("--max-length must be in 1..512 (BERT position limit)")
            print(f"wrote {export_minilm(args.out, max_length=args.max_length)}")
        elif args.command == "export":
            from tfrec_inc.serving.export import export

            out = export(args.results, args.out, index=args.index, k_max=args.k_max,
                         model=args.model, strategy=args.strategy, seed=args.seed)
            print(f"wrote {out}")
        elif args.command == "docs":
            from tfrec_inc.docs import config_reference

            if args.out is None:
                print(config_reference(), end="")
            else:
                Path(args.out).parent.mkdir(parents=True, exist_ok=True)
                Path(args.out).write_text(config_reference())
                print(f"wrote {args.out}")
        else:
            print(f"wrote {_rebuild(args)}")
    except TfrecIncError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
