"""Chapter 12 benchmarks, the goals side by side in one run.

    taskset -c 0,1 .venv/bin/python bench/bench_ch12.py      # mimic a 2-vCPU host

1. DCGAN default preset: seconds until ≥ 9 of 10 classes and ≥ 60 % of samples are classified
   with confidence ≥ 0.9 by the chapter 5 classifier                                   (goal ≤ 90 s)
2. shipped digit DDPM: 16 digits with 50 DDIM steps                                    (goal ≤ 5 s)
   and the DDPM-1000 vs DDIM-50 time ratio on the same network (≈ 20× expected)
3. 2-D toy diffusion, default preset: training time                                   (goal ≤ 20 s)
4. GAN lab presets (1,500 steps): modes covered, balanced vs mode collapse             (collapse < balanced)
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from core import weights  # noqa: E402
from core.device import configure_threads  # noqa: E402
from core.lessons.ch12_generative import dcgan, diffusion, evaluation, gan2d  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def dcgan_time_to_goal() -> dict:
    p = dcgan.PRESETS["default"]
    s = dcgan.DCGANSettings(steps=p["steps"], width=p["width"], batch_size=p["batch_size"], grid_every=p["grid_every"],
                            eval_every=p["eval_every"], eval_samples=p["eval_samples"])
    evaluation.judge(28), evaluation.real_features(28)      # load the judge before the clock starts
    r = dcgan.train_dcgan(s, judge=evaluation.score)
    hit = next((e for e in r.evals if e["coverage"] >= 9 and e["confident"] >= 0.6), None)
    last = r.evals[-1]
    return {"seconds_to_goal": round(hit["seconds"], 1) if hit else None, "step_at_goal": hit["step"] if hit else None,
            "final_confident": round(last["confident"], 3), "final_coverage": last["coverage"],
            "final_frechet": round(last["frechet"], 1), "total_seconds": round(r.seconds, 1), "steps": s.steps,
            "evals": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in e.items() if k != "kind"}
                      for e in r.evals]}


def ddpm_sampling() -> dict:
    loaded = weights.load("ch12_ddpm_digits", allow_train=False)
    model = loaded.model
    diffusion.sample_digits(model, 16, "ddim", 5)                       # warm-up (first call allocations)
    ddim = diffusion.sample_digits(model, 16, "ddim", 50, seed=0)
    ddpm = diffusion.sample_digits(model, 16, "ddpm", 1000, seed=0)
    judged = {k: evaluation.score(diffusion.to_28(v["images"])) for k, v in (("ddim50", ddim), ("ddpm1000", ddpm))}
    return {"ddim50_s": round(ddim["seconds"], 2), "ddpm1000_s": round(ddpm["seconds"], 2),
            "ratio": round(ddpm["seconds"] / ddim["seconds"], 1),
            **{f"{k}_confident": round(v["confident"], 3) for k, v in judged.items()},
            **{f"{k}_coverage": v["coverage"] for k, v in judged.items()},
            "shipped_metric": loaded.meta.get("metric"), "shipped_train_s": loaded.meta.get("train_seconds")}


def toy_diffusion() -> dict:
    p = diffusion.PRESETS["default"]
    out = diffusion.train_toy_diffusion(diffusion.ToyDiffusionSettings(steps=p["toy_steps"], n_points=p["toy_points"]))
    return {"train_s": round(out["seconds"], 1), "steps": p["toy_steps"], "final_loss": round(sum(out["losses"][-100:]) / 100, 4)}


def gan_presets() -> dict:
    out = {}
    for name in ("balanced", "collapse"):
        started = time.perf_counter()
        r = gan2d.train_gan2d(gan2d.GAN2DSettings(**gan2d.LAB_PRESETS[name]))
        out[name] = {**gan2d.mode_coverage(r.lab), "seconds": round(time.perf_counter() - started, 1), "reason": r.reason}
    return out


def main() -> None:
    threads = configure_threads()
    report = {"threads": threads}
    for name, fn in (("ddpm", ddpm_sampling), ("toy", toy_diffusion), ("gan2d", gan_presets), ("dcgan", dcgan_time_to_goal)):
        report[name] = fn()
        print(name, json.dumps(report[name])[:400], flush=True)   # figures as they come (the run is long)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ch12.json").write_text(json.dumps(report, indent=2))
    d, s, t, g = report["dcgan"], report["ddpm"], report["toy"], report["gan2d"]
    print(f"threads: {threads}")
    print(f"DCGAN: ≥9 classes & ≥60 % confident after {d['seconds_to_goal']} s (step {d['step_at_goal']}); final "
          f"{d['final_confident']:.0%} confident, {d['final_coverage']}/10 classes, FD {d['final_frechet']} "
          f"in {d['total_seconds']} s  goal ≤ 90 s")
    print(f"DDPM shipped: 16 digits, DDIM-50 {s['ddim50_s']} s (goal ≤ 5 s); DDPM-1000 {s['ddpm1000_s']} s = "
          f"{s['ratio']}× DDIM-50; confident DDIM-50 {s['ddim50_confident']:.0%} / DDPM-1000 {s['ddpm1000_confident']:.0%}")
    print(f"toy diffusion: {t['steps']} steps in {t['train_s']} s  goal ≤ 20 s")
    print(f"GAN lab: balanced {g['balanced']['modes']}/8 modes vs collapse preset {g['collapse']['modes']}/8")


if __name__ == "__main__":
    main()
