"""Run every chapter's trainers on CPU and on the GPU, and print the seconds each took.

    python scripts/gpu_check.py                  # CPU vs the accelerator found (CUDA / MPS)
    python scripts/gpu_check.py --device cpu     # smoke test on a machine without one
    python scripts/gpu_check.py --preset tiny --only ch05

For whenever a GPU machine is at hand: a lesson that forgets to move its model or batches to
``settings.device`` either fails here on CUDA or shows no speed-up. Each trainer check is
registered in its lesson module with ``@core.lessons.trainer(name)``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

from core.device import configure_threads, detect, synchronize  # noqa: E402
from core.lessons import load_all  # noqa: E402


def accelerator() -> str | None:
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps and mps.is_available() else None


def timed(check, device: str, preset: str) -> tuple[float | None, dict | str]:
    try:
        start = time.perf_counter()
        measured = check(device, preset)
        synchronize(device)
        return time.perf_counter() - start, measured
    except Exception as exc:   # report and go on: one broken trainer must not hide the others
        traceback.print_exc()
        return None, f"{type(exc).__name__}: {exc}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", action="append", help="device(s) to run on (default: cpu and the accelerator)")
    parser.add_argument("--preset", action="append", help="preset(s): tiny, default, gpu (default: tiny and default)")
    parser.add_argument("--only", default="", help="run only trainer checks whose name contains this")
    parser.add_argument("--json", type=Path, help="also write the table as JSON here")
    args = parser.parse_args(argv)
    configure_threads()
    devices = args.device or ["cpu"] + ([accelerator()] if accelerator() else [])
    presets = args.preset or ["tiny", "default"]
    info = detect()
    print(f"torch {torch.__version__} · {info.kind}: {info.name} · devices {devices} · presets {presets}")
    checks = {n: c for n, c in sorted(load_all().items()) if args.only in n}
    rows, failed = [], 0
    for preset in presets:
        for name, check in checks.items():
            row = {"trainer": name, "preset": preset}
            for device in devices:
                seconds, measured = timed(check, device, preset)
                row[f"{device}_s"] = None if seconds is None else round(seconds, 2)
                row[f"{device}_result"] = measured
                failed += seconds is None
            cells = "  ".join(f"{d}: {row[f'{d}_s'] if row[f'{d}_s'] is not None else 'FAILED'} s" for d in devices)
            speedup = ""
            if len(devices) == 2 and all(row[f"{d}_s"] for d in devices):
                speedup = f"  ({row[f'{devices[0]}_s'] / row[f'{devices[1]}_s']:.1f}× on {devices[1]})"
            print(f"{preset:8s} {name:28s} {cells}{speedup}", flush=True)
            rows.append(row)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=str))
    print(f"{len(rows)} runs, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
