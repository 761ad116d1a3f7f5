"""Where the time goes on the jupyter-mlops side: ``python benchmarks/profile_mlops.py BENCH``.

Runs one benchmark group of ``mlops_side`` (empty_run, cell, metrics, search, history) under
cProfile and prints the top functions twice: for the calling thread (what the user waits for)
and for the background writer thread (what a flush waits for; profiled by wrapping
``Writer._drain_once`` here, at run time -- the package is not modified). Timings under a
profiler are inflated; compare the shares, not the absolute numbers, with ``run.py``'s.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import sys
import threading
from pathlib import Path

if __package__ in (None, ""):
    _here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(_here)]
    sys.path.insert(0, str(Path(_here).parent))

from benchmarks import mlops_side  # noqa: E402
from benchmarks.common import BENCHES, Sizes, temp_root  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/profile_mlops.py")
    # rest: the time is spent in the server process, not here (see benchmarks/README.md)
    parser.add_argument("bench", choices=[b for b in BENCHES if b != "rest"])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="cumulative", choices=("cumulative", "tottime"))
    parser.add_argument(
        "--dump",
        type=Path,
        default=None,
        help="also write <DUMP>-caller.pstats and <DUMP>-writer.pstats",
    )
    args = parser.parse_args(argv)
    sizes = (Sizes.quick() if args.quick else Sizes()).override(args.set)

    from jupyter_mlops.store.writer import Writer

    writer_profile = cProfile.Profile()
    lock = threading.Lock()
    original = Writer._drain_once

    def profiled_drain(self: Writer) -> None:
        with lock:  # one profiler, one thread at a time
            writer_profile.enable()
            try:
                original(self)
            finally:
                writer_profile.disable()

    Writer._drain_once = profiled_drain  # type: ignore[method-assign]
    tmp = temp_root()
    caller_profile = cProfile.Profile()
    out: dict = {}
    try:
        caller_profile.enable()
        getattr(mlops_side, args.bench)(sizes, tmp, out, {})
        caller_profile.disable()
        mlops_side.finish()
    finally:
        Writer._drain_once = original  # type: ignore[method-assign]
        shutil.rmtree(tmp, ignore_errors=True)

    for name, profile in (("caller thread", caller_profile), ("writer thread", writer_profile)):
        stream = io.StringIO()
        try:
            stats = pstats.Stats(profile, stream=stream)
        except TypeError:  # nothing recorded
            print(f"\n== {name}: no samples")
            continue
        stats.strip_dirs().sort_stats(args.sort).print_stats(args.top)
        print(f"\n== {name} ({args.sort})")
        print(stream.getvalue())
        if args.dump:
            stats.dump_stats(f"{args.dump}-{name.split()[0]}.pstats")
    return 0


if __name__ == "__main__":
    sys.exit(main())
