"""Chapter 16 benchmarks (16.1–16.3), figures vs goals side by side in one run.

    taskset -c 0,1 .venv/bin/python bench/bench_ch16.py      # mimic a 2-vCPU host

1. CartPole-v1, REINFORCE with a value baseline (the page's default settings, 3 seeds):
   episodes until the mean reward of the last 100 episodes reaches 195  (goal ≤ 1,000; reported per seed)
2. tiny CLIP, default preset: zero-shot accuracy on the 360 validation digits with English, Chinese
   and numeral prompts, and its training time                            (goal ≥ 90 %, ≤ 60 s on CPU)
3. FGSM / PGD on the shipped digits CNN at ε = 0.1, and adversarial training's robust accuracy (reported)
The 16.5/16.6 figures (scaling law, torch.compile) are in bench_ch16_compute.py.
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

import numpy as np  # noqa: E402
import torch  # noqa: E402

from core import catalog, weights  # noqa: E402
from core.lessons.ch16_horizon import adversarial as adv, clip, rl  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def cartpole(seeds=(0, 1, 2), cap: int = 1500) -> dict:
    rows = []
    for seed in seeds:
        run = rl.train_reinforce(rl.RLSettings(episodes=cap, seed=seed))
        rows.append({"seed": seed, "episodes_to_195": run.solved_at, "seconds": round(run.seconds, 1),
                     "final_mean100": round(float(np.mean(run.rewards[-rl.WINDOW:])), 1)})
        print(f"  CartPole seed {seed}: solved at {run.solved_at} episodes in {run.seconds:.0f} s", flush=True)
    solved = [r["episodes_to_195"] for r in rows if r["episodes_to_195"]]
    return {"window": rl.WINDOW, "target": rl.SOLVED, "cap": cap, "runs": rows,
            "median_episodes": float(np.median(solved)) if solved else None, "solved": f"{len(solved)}/{len(rows)}"}


def tiny_clip() -> dict:
    P = clip.PRESETS["default"]
    run = clip.train_clip(clip.CLIPSettings(steps=P["steps"], batch_size=P["batch_size"], eval_every=P["eval_every"]))
    return {"steps": P["steps"], "batch_size": P["batch_size"], "seconds": round(run.seconds, 1),
            "zero_shot": {k: round(v, 4) for k, v in run.zero_shot.items()}}


def attacks() -> dict:
    model = weights.load("ch05_digits_cnn").model.eval()
    rows = adv.accuracy_curve(model, adv.AttackSettings(eps_max=0.2, eps_points=3))
    P = adv.PRESETS["default"]
    started = time.perf_counter()
    trained = adv.adversarial_training(adv.AdvTrainSettings(epochs=P["epochs"]))
    return {"shipped_cnn": [{k: round(v, 4) for k, v in r.items()} for r in rows],
            "adversarial_training": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
                                     for r in trained["rows"]],
            "adversarial_training_seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    torch.set_num_threads(int(os.environ.get("HERO_THREADS", "1")))
    load = os.getloadavg()[0]
    print(f"ch16 bench · torch {torch.__version__} · {torch.get_num_threads()} thread(s) · load {load:.1f}", flush=True)
    out = {"load_at_start": round(load, 1), "threads": torch.get_num_threads()}
    out["clip"] = c = tiny_clip()
    print(f"  tiny CLIP: zero-shot {c['zero_shot']} after {c['steps']} steps in {c['seconds']} s", flush=True)
    out["attacks"] = a = attacks()
    print(f"  attacks on the shipped CNN: {a['shipped_cnn']}", flush=True)
    print(f"  adversarial training: {a['adversarial_training']}", flush=True)
    out["cartpole"] = cp = cartpole()
    out["load_at_end"] = round(os.getloadavg()[0], 1)
    z = c["zero_shot"]
    print("\n| figure | measured | goal |\n|---|---|---|")
    print(f"| CartPole episodes to mean(100) ≥ 195 | median {cp['median_episodes']} ({cp['solved']} seeds solved) "
          f"| ≤ 1,000 |")
    print(f"| tiny CLIP zero-shot (en / zh / numerals) | {z['en']:.1%} / {z['zh']:.1%} / {z['num']:.1%} | ≥ 90 % |")
    print(f"| tiny CLIP training time ({c['steps']} steps) | {c['seconds']} s | ≤ 60 s |")
    rob = {r["model"]: r for r in a["adversarial_training"]}
    print(f"| PGD ε=0.1 accuracy, standard → adversarial training | {rob['standard']['pgd']:.1%} → "
          f"{rob['robust']['pgd']:.1%} | reported |")
    print(f"(load {out['load_at_start']} → {out['load_at_end']} on this machine)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ch16.json").write_text(json.dumps(out, indent=2))
    solved_s = [r["seconds"] for r in cp["runs"] if r["episodes_to_195"]]
    if solved_s:   # the longest live run on the page: REINFORCE until the target (median over the solved seeds)
        card = catalog.record_measurement("ch16", float(np.median(solved_s)), {
            "en": f"REINFORCE on CartPole until mean(100) ≥ 195 (median of {len(solved_s)} seeds)",
            "zh": f"REINFORCE 训练 CartPole 直到最近 100 局平均 ≥ 195（{len(solved_s)} 个种子的中位数）"})
        print("home card:", "recorded in bench/cards.json" if card else "not recorded (machine loaded; HERO_RECORD_CARDS=1 forces)")


if __name__ == "__main__":
    main()
