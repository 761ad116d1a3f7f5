"""One side of the benchmark in its own process: ``python -m benchmarks.worker --side mlops``.

Each side runs in a fresh interpreter so neither pays for the other's imports, threads or
garbage (MLflow imports hundreds of modules; jupyter-mlops records imported package versions).
Results go to ``--out`` as JSON; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import traceback
from typing import Any

from .common import BENCHES, Sizes, log, temp_root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    parser.add_argument("--side", choices=("mlops", "mlflow"), required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default=",".join(BENCHES))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", required=True)
    parser.add_argument("--keep-temp", action="store_true")
    parser.add_argument("--before", default="", help="git revision of the code before")
    args = parser.parse_args(argv)

    sizes = (Sizes.quick() if args.quick else Sizes()).override(args.set)
    if args.side == "mlops":
        from . import mlops_side as side
    else:
        from . import mlflow_side as side
    name = side.SIDE
    tmp = temp_root()
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    seconds: dict[str, float] = {}
    state: dict[str, Any] = {"before_rev": args.before}
    started = time.perf_counter()
    versions = side.version_info()
    import_s = time.perf_counter() - started
    try:
        for bench in [b for b in BENCHES if b in args.only.split(",")]:
            if not hasattr(side, bench):
                continue  # no equivalent on this side
            begin = time.perf_counter()
            try:
                getattr(side, bench)(sizes, tmp, results, state)
            except Exception:
                errors[bench] = traceback.format_exc()
                log(name, f"{bench} FAILED:\n{errors[bench]}")
            seconds[bench] = time.perf_counter() - begin
        side.finish()
    finally:
        state.clear()
        if args.keep_temp:
            log(name, f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "side": name,
                "versions": versions,
                "import_s": import_s,
                "results": results,
                "errors": errors,
                "seconds": seconds,
            },
            handle,
            indent=1,
        )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
