"""Chapter 16 lessons against oracles: the contrastive loss by its formula, FGSM by hand, PGD inside
its ε-ball, returns and fairness gaps recomputed with NumPy loops."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core import weights
from core.errors import HeroError
from core.lessons.ch16_horizon import adversarial as adv, clip, fairness as fair, rl
from core.nets.clip_tiny import TinyCLIP, TinyCLIPConfig
from core.nets.policy_mlp import PolicyMLP, PolicyMLPConfig


pytestmark = pytest.mark.usefixtures("one_thread")


def test_symmetric_contrastive_loss_matches_its_formula():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 6, generator=g) * 3
    L = logits.double().numpy()

    def lse(v):
        return math.log(sum(math.exp(x) for x in v))
    rows = np.mean([lse(L[i]) - L[i, i] for i in range(6)])            # image i → which text
    cols = np.mean([lse(L[:, j]) - L[j, j] for j in range(6)])         # text j → which image
    assert abs(float(clip.clip_loss(logits)) - 0.5 * (rows + cols)) < 1e-5
    # perfectly separated pairs: the loss goes to 0
    assert float(clip.clip_loss(torch.eye(4) * 50)) < 1e-6


def test_prompts_in_both_languages_and_unknown_words():
    ids_en, dropped = clip.encode_prompt("A photo of the digit SEVEN, please")
    assert dropped == ["please"] and clip.VOCAB[ids_en[5]] == "seven" and len(ids_en) == clip.MAX_TOKENS
    ids_zh, _ = clip.encode_prompt("数字七")
    assert [clip.VOCAB[i] for i in ids_zh if i] == ["数", "字", "七"]
    with pytest.raises(HeroError) as err:
        clip.encode_prompt("banana split 香蕉")
    assert err.value.code == "ch16.clip_no_words"
    assert clip.class_prompts("zh")[7] == "数字七" and clip.class_prompts("en", "digit")[3] == "digit three"


def test_tiny_clip_embeddings_are_unit_and_ignore_padding():
    torch.manual_seed(0)
    model = TinyCLIP(TinyCLIPConfig(vocab_size=len(clip.VOCAB))).eval()
    a = torch.tensor([[5, 9, 0, 0]])
    b = torch.tensor([[5, 9, 0, 0, 0, 0, 0, 0]])
    ta, tb = model.encode_text(a), model.encode_text(b)
    assert torch.allclose(ta, tb, atol=1e-6) and abs(float(ta.norm()) - 1) < 1e-5
    img = model.encode_image(torch.rand(3, 64))
    assert torch.allclose(img.norm(dim=1), torch.ones(3), atol=1e-5)
    logits = model(torch.rand(3, 64), torch.randint(1, len(clip.VOCAB), (3, clip.MAX_TOKENS)))
    assert logits.shape == (3, 3)


def test_clip_training_lowers_the_loss_and_zero_shot_runs_in_every_language():
    run = clip.train_clip(clip.CLIPSettings(steps=40, batch_size=32, eval_every=20))
    assert run.history[-1]["loss"] < math.log(32)             # below the chance level log(B)
    parts = clip.digit_split(0)
    for lang in clip.DIGIT_WORDS:
        zs = clip.zero_shot(run.model, parts.X_val, parts.y_val, clip.class_prompts(lang))
        assert zs["similarity"].shape == (len(parts.y_val), 10) and np.abs(zs["similarity"]).max() <= 1 + 1e-5
        assert zs["acc"] == pytest.approx(float((zs["pred"] == parts.y_val.numpy()).mean()))
    found = clip.retrieve(run.model, parts.X_val, "数字七", k=5)
    assert len(found["index"]) == 5 and np.all(np.diff(found["score"]) <= 1e-6)


def test_discounted_returns_and_reinforce_loss_by_hand():
    rewards, gamma = [1.0, 0.0, 2.0, 1.0], 0.9
    by_hand = [sum(gamma ** (k - t) * rewards[k] for k in range(t, 4)) for t in range(4)]
    assert np.allclose(rl.discounted_returns(rewards, gamma).numpy(), by_hand)
    logp = torch.tensor([-0.1, -0.5, -1.0], requires_grad=True)
    values = torch.tensor([1.0, 2.0, 0.5], requires_grad=True)
    returns = torch.tensor([3.0, 1.0, 2.0])
    adv_ = (returns - values).detach().numpy()
    adv_ = (adv_ - adv_.mean()) / (adv_.std(ddof=1) + 1e-8)
    expected = -np.mean(logp.detach().numpy() * adv_) + 0.5 * np.mean((values.detach().numpy() - returns.numpy()) ** 2)
    loss = rl.reinforce_loss(logp, values, returns)
    assert float(loss) == pytest.approx(expected, abs=1e-5)
    loss.backward()
    assert torch.all(logp.grad[torch.tensor(adv_) > 0] < 0)    # better-than-expected actions get more likely


def test_cartpole_replay_and_frames_drawn_from_the_state():
    torch.manual_seed(0)
    policy = PolicyMLP(PolicyMLPConfig())
    ep = rl.replay(policy, seed=3)
    states = ep["states"]
    assert states.shape == (int(ep["reward"]) + 1, 4)
    fig = rl.episode_figure(states, "t", max_frames=20)
    assert len(fig.frames) <= 21
    pole = fig.data[1]
    assert pole.x[1] == pytest.approx(states[0, 0] + math.sin(states[0, 2]), abs=1e-6)


def test_fgsm_is_x_plus_eps_sign_of_the_input_gradient():
    model = weights.load("ch05_digits_cnn").model.eval()
    X, y, _ = adv.flat_eval_set(model, 16)
    x = X.clone().requires_grad_(True)
    F.cross_entropy(model(x), y).backward()
    by_hand = X + 0.05 * x.grad.sign()
    assert torch.equal(adv.fgsm(model, X, y, 0.05, clamp=False), by_hand)
    assert torch.equal(adv.fgsm(model, X, y, 0.05), by_hand.clamp(0, 1))


def test_pgd_stays_in_the_eps_ball_and_beats_the_clean_accuracy():
    model = weights.load("ch05_digits_cnn").model.eval()
    X, y, _ = adv.flat_eval_set(model, 64)
    for eps in (0.02, 0.1, 0.3):
        x_adv = adv.pgd(model, X, y, eps, steps=5)
        assert float((x_adv - X).abs().max()) <= eps + 1e-6
        assert float(x_adv.min()) >= 0 and float(x_adv.max()) <= 1
    assert adv.accuracy(model, adv.pgd(model, X, y, 0.2, steps=10), y) < adv.accuracy(model, X, y) - 0.3


def test_eps_outside_zero_one_is_refused():
    model = weights.load("ch05_digits_cnn").model.eval()
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(HeroError) as err:
            adv.examples(model, bad)
        assert err.value.code == "range"
    with pytest.raises(HeroError):
        adv.adversarial_training(adv.AdvTrainSettings(eps=2.0))


def test_fairness_gaps_match_numpy_by_hand():
    data = fair.generate(fair.FairnessData(n_per_group=300, seed=1))
    ta, tb = 0.45, 0.6
    sel, tpr, fpr = {}, {}, {}
    for g, thr in (("A", ta), ("B", tb)):
        idx = [i for i in range(len(data["y"])) if data["group"][i] == g]
        dec = [1 if data["score"][i] >= thr else 0 for i in idx]
        ys = [data["y"][i] for i in idx]
        sel[g] = sum(dec) / len(dec)
        tpr[g] = sum(d for d, t in zip(dec, ys) if t == 1) / sum(ys)
        fpr[g] = sum(d for d, t in zip(dec, ys) if t == 0) / (len(ys) - sum(ys))
    r = fair.fairness_report(data, ta, tb)
    assert r["dp_gap"] == pytest.approx(abs(sel["A"] - sel["B"]))
    assert r["eo_gap"] == pytest.approx(max(abs(tpr["A"] - tpr["B"]), abs(fpr["A"] - fpr["B"])))
    tb_parity = fair.parity_threshold(data, ta)
    assert fair.fairness_report(data, ta, tb_parity)["dp_gap"] < 0.01
    assert r["rates"]["A"]["base_rate"] > r["rates"]["B"]["base_rate"]   # as generated
