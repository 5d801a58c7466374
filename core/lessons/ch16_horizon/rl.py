"""16.2 Reinforcement learning: REINFORCE with a learned baseline on gymnasium's CartPole-v1.

The agent sees the state s = (cart x, cart velocity, pole angle θ, angular velocity), pushes left
or right, and earns +1 per step the pole stays up (an episode ends at |θ| > 12°, |x| > 2.4 or
500 steps). REINFORCE raises log π(a|s) in proportion to how much better than expected the rest
of the episode went: the advantage G_t − V(s_t), where G_t is the discounted return from t and
V is a value head trained alongside (the baseline: same expected gradient, far less noise).

No pygame: frames are drawn with plotly from the state alone (``episode_figure``).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F

from core.device import seed_everything
from core.errors import Emit, check_range
from core.lessons import trainer
from core.nets.policy_mlp import PolicyMLP, PolicyMLPConfig
from core.viz import style

PRESETS = {
    "tiny": {"episodes": 6},
    "default": {"episodes": 1200},
    "gpu": {"episodes": 1500},
}
ENV_ID = "CartPole-v1"
SOLVED = 195.0          # the classic "solved" bar (CartPole-v0's), averaged over WINDOW episodes
WINDOW = 100


@dataclass
class RLSettings:
    episodes: int = 1200
    gamma: float = 0.99        # discount: a reward k steps later counts γᵏ
    lr: float = 1e-2
    hidden: int = 64
    value_weight: float = 0.5  # weight of the baseline's squared error in the loss
    entropy_weight: float = 0.01  # a small bonus for keeping π uncertain: stops an early collapse onto one action
    clip_norm: float = 1.0     # gradient-norm clip: one lucky 500-step episode cannot throw the policy away
    stop_at_solved: bool = True  # end once the mean reward of the last WINDOW episodes reaches SOLVED
    seed: int = 0
    device: str = "cpu"


@dataclass
class RLRun:
    policy: PolicyMLP
    initial: PolicyMLP                              # the same network before any update (for "before")
    rewards: list = field(default_factory=list)     # total reward of each training episode
    solved_at: int | None = None                    # episodes until mean(last WINDOW) ≥ SOLVED
    seconds: float = 0.0


def make_env():
    import gymnasium as gym   # heavy-ish: only when a run starts
    return gym.make(ENV_ID)


def discounted_returns(rewards: list[float], gamma: float) -> torch.Tensor:
    """G_t = r_t + γ r_{t+1} + γ² r_{t+2} + … for every t, computed backwards: [T]."""
    out, running = [], 0.0
    for r in reversed(rewards):
        running = r + gamma * running
        out.append(running)
    return torch.tensor(out[::-1], dtype=torch.float32)


def reinforce_loss(logp: torch.Tensor, values: torch.Tensor, returns: torch.Tensor,
                   value_weight: float = 0.5) -> torch.Tensor:
    """logp [T] of the actions taken, values [T] = V(s_t), returns [T] = G_t.
    Policy term −Σ log π(a_t|s_t)·A_t with A_t = G_t − V(s_t) (normalised, no gradient into V),
    plus value_weight · MSE(V, G) to fit the baseline."""
    advantage = (returns - values).detach()
    if len(advantage) > 1:
        advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
    return -(logp * advantage).mean() + value_weight * F.mse_loss(values, returns)


def run_episode(policy: PolicyMLP, env, seed: int | None = None, greedy: bool = False,
                generator: torch.Generator | None = None, record: bool = False) -> dict:
    """One episode. → {"reward", "rewards", "logp" / "values" / "entropy" [T] (with grad, when sampling),
    "states" [T+1, 4] if record}."""
    device = next(policy.parameters()).device
    obs, _ = env.reset(seed=seed)
    logps, values, entropies, rewards, states = [], [], [], [], [obs]
    done = False
    while not done:
        logits, value = policy(torch.as_tensor(obs, dtype=torch.float32, device=device)[None])
        if greedy:
            action = int(logits.argmax(-1))
        else:
            probs = torch.softmax(logits[0].float(), -1).cpu()
            action = int(torch.multinomial(probs, 1, generator=generator))
            log_probs = torch.log_softmax(logits[0], -1)
            logps.append(log_probs[action])
            values.append(value[0])
            entropies.append(-(log_probs.exp() * log_probs).sum())
        obs, reward, terminated, truncated, _ = env.step(action)
        rewards.append(float(reward))
        done = terminated or truncated
        if record:
            states.append(obs)
    out = {"reward": sum(rewards), "rewards": rewards}
    if logps:
        out.update(logp=torch.stack(logps), values=torch.stack(values), entropy=torch.stack(entropies))
    if record:
        out["states"] = np.asarray(states, dtype=np.float32)
    return out


def train_reinforce(s: RLSettings, stop=None, emit: Emit | None = None) -> RLRun:
    """Update once per episode: sample it with π, compute G_t, step on the REINFORCE + baseline loss."""
    import copy
    check_range("episodes", s.episodes, 1, 5000)
    seed_everything(s.seed)
    device = torch.device(s.device)
    policy = PolicyMLP(PolicyMLPConfig(hidden=s.hidden)).to(device)
    run = RLRun(policy=policy, initial=copy.deepcopy(policy).cpu().eval())
    opt = torch.optim.Adam(policy.parameters(), lr=s.lr)
    env, g = make_env(), torch.Generator().manual_seed(s.seed)
    started = time.perf_counter()
    for episode in range(1, s.episodes + 1):
        if stop is not None and stop.is_set():
            break
        # 1. play one episode with the current policy  2. returns G_t  3. policy-gradient step
        ep = run_episode(policy, env, seed=s.seed * 100_003 + episode, generator=g)
        returns = discounted_returns(ep["rewards"], s.gamma).to(device)
        loss = (reinforce_loss(ep["logp"], ep["values"], returns, s.value_weight)
                - s.entropy_weight * ep["entropy"].mean())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), s.clip_norm)
        opt.step()
        run.rewards.append(ep["reward"])
        mean = float(np.mean(run.rewards[-WINDOW:]))
        if emit is not None:
            emit({"kind": "episode", "episode": episode, "reward": ep["reward"], "mean": mean})
            emit({"kind": "progress", "done": episode, "total": s.episodes,
                  "text": f"reward {ep['reward']:.0f} · mean({WINDOW}) {mean:.0f}"})
        if len(run.rewards) >= WINDOW and mean >= SOLVED and run.solved_at is None:
            run.solved_at = episode
            if s.stop_at_solved:
                break
    env.close()
    run.seconds = time.perf_counter() - started
    run.policy = policy.cpu().eval()
    return run


@trainer("ch16_reinforce")
def _check_reinforce(device: str, preset: str) -> dict:
    run = train_reinforce(RLSettings(episodes=PRESETS[preset]["episodes"], device=device))
    return {"mean_reward": float(np.mean(run.rewards)), "episodes": len(run.rewards)}


@torch.no_grad()
def replay(policy: PolicyMLP, seed: int = 0, greedy: bool = True) -> dict:
    """One episode of ``policy`` recorded: {"states" [T+1, 4], "reward"}."""
    env = make_env()
    try:
        ep = run_episode(policy.eval(), env, seed=seed, greedy=greedy, record=True)
    finally:
        env.close()
    return {"states": ep["states"], "reward": ep["reward"]}


def _cart_shapes(x: float, theta: float) -> tuple[list[float], list[float], list[float], list[float]]:
    """Cart outline and pole end points in world units (pole length 1.0 drawn = 2 × half-length)."""
    w, h = 0.5, 0.3
    cart_x = [x - w / 2, x + w / 2, x + w / 2, x - w / 2, x - w / 2]
    cart_y = [0, 0, h, h, 0]
    pole_x = [x, x + math.sin(theta)]
    pole_y = [h, h + math.cos(theta)]
    return cart_x, cart_y, pole_x, pole_y


def episode_figure(states: np.ndarray, title: str, frame_label: str = "t", max_frames: int = 120) -> go.Figure:
    """An animated CartPole episode drawn from the state alone: play button and a frame slider."""
    step = max(1, math.ceil(len(states) / max_frames))
    shown = list(range(0, len(states), step))
    if shown[-1] != len(states) - 1:
        shown.append(len(states) - 1)

    def traces(i: int) -> list[go.Scatter]:
        cx, cy, px, py = _cart_shapes(float(states[i, 0]), float(states[i, 2]))
        return [go.Scatter(x=cx, y=cy, fill="toself", mode="lines", line=dict(color="#1f77b4"), hoverinfo="skip"),
                go.Scatter(x=px, y=py, mode="lines+markers", line=dict(color="#d62728", width=6),
                           marker=dict(size=[4, 10]), hoverinfo="skip")]

    fig = go.Figure(data=traces(0), frames=[go.Frame(data=traces(i), name=str(i)) for i in shown])
    fig.add_shape(type="line", x0=-2.4, x1=2.4, y0=0, y1=0, line=dict(color="grey"))
    fig.add_vrect(x0=-2.6, x1=-2.4, fillcolor="grey", opacity=0.3, line_width=0)
    fig.add_vrect(x0=2.4, x1=2.6, fillcolor="grey", opacity=0.3, line_width=0)
    fig.update_xaxes(range=[-2.6, 2.6], zeroline=False)
    fig.update_yaxes(range=[-0.2, 1.5], scaleanchor="x", visible=False)
    fig.update_layout(
        showlegend=False,
        updatemenus=[dict(type="buttons", x=0, y=-0.05, xanchor="left", buttons=[
            dict(label="▶", method="animate", args=[None, {"frame": {"duration": 40, "redraw": False},
                                                          "fromcurrent": True, "transition": {"duration": 0}}]),
            dict(label="❚❚", method="animate", args=[[None], {"mode": "immediate", "frame": {"duration": 0}}])])],
        sliders=[dict(x=0.1, len=0.9, currentvalue={"prefix": f"{frame_label} = "},
                      steps=[dict(label=str(i), method="animate",
                                  args=[[str(i)], {"mode": "immediate", "frame": {"duration": 0, "redraw": False}}])
                             for i in shown])])
    return style(fig, title, height=340)


def reward_figure(rewards: list[float], labels: dict[str, str], title: str) -> go.Figure:
    """Reward per episode, its running mean over WINDOW, and the SOLVED line."""
    r = np.asarray(rewards, dtype=float)
    mean = np.array([r[max(0, i - WINDOW + 1):i + 1].mean() for i in range(len(r))])
    x = np.arange(1, len(r) + 1)
    fig = go.Figure([go.Scatter(x=x, y=r, mode="lines", name=labels["reward"], line=dict(width=1), opacity=0.5),
                     go.Scatter(x=x, y=mean, mode="lines", name=labels["mean"], line=dict(width=3))])
    fig.add_hline(y=SOLVED, line_dash="dot", annotation_text=labels["solved"])
    fig.update_xaxes(title=labels["episode"])
    fig.update_yaxes(title=labels["reward"])
    return style(fig, title, height=340)
