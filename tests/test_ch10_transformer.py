"""Chapter 10 lessons against oracles: attention three ways (1e-6), masks, the KV cache vs a full
forward, head ablation restored exactly, sampling filters vs NumPy, shapes vs the formula."""
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from core.device import configure_threads
from core.errors import HeroError
from core.lessons import ch10_transformer as ch10
from core.lessons.ch10_transformer import attention as att, gpt, heads, positions as pos, shapes, translation as tr, vit
from core.nets.char_gpt import CharGPT, CharGPTConfig, rope_rotate, sinusoidal_table

configure_threads()
TINY = ch10.PRESETS["tiny"]


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("padded", [True, False])
@pytest.mark.parametrize("heads_, batch", [(1, 1), (2, 3), (4, 2), (8, 4)])
def test_attention_three_ways_agree(causal, padded, heads_, batch):
    lengths = [6 - i % 4 for i in range(batch)] if padded else None
    r = att.three_ways(batch=batch, seq=7, embed=32, heads=heads_, causal=causal, lengths=lengths, seed=batch)
    assert max(r["max_diff"].values()) < 1e-6, r["max_diff"]
    w = r["weights_hand"]
    assert w.shape == (batch, heads_, 7, 7)
    assert torch.allclose(w.sum(-1), torch.ones(batch, heads_, 7), atol=1e-6)
    if causal:
        assert float(w.triu(1).abs().max()) == 0.0            # no query reads a later key
    if padded:
        for b, n in enumerate(lengths):
            assert float(w[b, :, :, n:].abs().max()) == 0.0   # padded keys get no weight


def test_by_hand_matches_sdpa_with_any_boolean_mask():
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 8, generator=gen) for _ in range(3))
    mask = torch.rand(2, 3, 5, 5, generator=gen) > 0.4
    mask[..., 0] = True                                      # every row keeps at least one key
    out, w = att.attention_by_hand(q, k, v, mask, scale=0.7)
    assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=0.7), atol=1e-6)
    assert float(w.masked_select(~mask).abs().max()) == 0.0


def test_head_count_that_does_not_divide_width_is_a_translated_error():
    for call in (lambda: att.three_ways(embed=24, heads=5),
                 lambda: gpt.check_gpt_settings(gpt.GPTSettings(n_embd=96, n_head=5)),
                 lambda: shapes.transformer_table(shapes.TransformerShape(d_model=64, nhead=3)),
                 lambda: vit.train_vit(vit.ViTSettings(dim=30, heads=4))):
        with pytest.raises(HeroError) as err:
            call()
        assert err.value.code == "ch10.heads_divide"


def test_step_by_step_matrices_masks_and_temperature():
    r = att.attention_steps(att.StepSettings(sentence="the cat sat on the mat", causal=True, pad_to=8))
    names = [s["name"] for s in r["steps"]]
    assert names == ["embeddings", "queries", "keys", "values", "scores", "scaled", "masked", "weights", "output"]
    w = r["steps"][7]["matrix"]
    assert w.shape == (8, 8) and np.allclose(w.sum(1), 1, atol=1e-6)
    assert np.all(np.triu(w, 1) == 0) and np.all(w[:, 6:] == 0)        # causal, and the two <pad> keys
    assert r["max_diff_sdpa"] < 1e-6
    q, k = r["steps"][1]["matrix"], r["steps"][2]["matrix"]
    assert np.allclose(r["steps"][4]["matrix"], q @ k.T, atol=1e-5)
    assert np.allclose(r["steps"][5]["matrix"], q @ k.T / math.sqrt(4), atol=1e-5)
    hot = att.attention_steps(att.StepSettings(temperature=4.0))["entropy"]
    cold = att.attention_steps(att.StepSettings(temperature=0.25))["entropy"]
    assert hot.mean() > cold.mean()                                      # higher temperature, flatter weights
    for bad, code in (("   ", "ch10.empty_sentence"), ("a " * 13, "ch10.too_many_words")):
        with pytest.raises(HeroError) as err:
            att.attention_steps(att.StepSettings(sentence=bad))
        assert err.value.code == code


# --------------------------------------------------------------------------- the char GPT

def tiny_gpt(pos_kind="learned", seed=0, block=16):
    torch.manual_seed(seed)
    return CharGPT(CharGPTConfig(vocab_size=20, block_size=block, n_layer=2, n_head=2, n_embd=16, pos=pos_kind)).eval()


@pytest.mark.parametrize("pos_kind", ["learned", "sinusoidal", "rope", "none"])
def test_kv_cache_gives_the_full_forward_logits(pos_kind):
    model = tiny_gpt(pos_kind)
    idx = torch.randint(0, 20, (2, 12))
    with torch.no_grad():
        full = model(idx)
        logits, cache = model.step(idx[:, :5])
        parts = [logits]
        for t in range(5, 12):
            logits, cache = model.step(idx[:, t:t + 1], cache)
            parts.append(logits)
        chunked, _ = model.step(idx[:, 8:], model.step(idx[:, :8])[1])   # several new tokens after a cache
    assert torch.allclose(torch.cat(parts, 1), full, atol=1e-5)
    assert torch.allclose(chunked, full[:, 8:], atol=1e-5)
    assert cache[0][0].shape == (2, 2, 12, 8)


def test_attention_maps_are_the_weights_the_forward_uses():
    model = tiny_gpt()
    idx = torch.randint(0, 20, (1, 10))
    with torch.no_grad():
        logits, maps = model.attention_maps(idx)
        assert torch.allclose(logits, model(idx), atol=1e-5)
    assert len(maps) == 2 and maps[0].shape == (1, 2, 10, 10)
    assert torch.allclose(maps[1].sum(-1), torch.ones(1, 2, 10)) and float(maps[1].triu(1).max()) == 0


def test_sampling_with_and_without_cache_writes_the_same_text():
    model = tiny_gpt(block=32)
    idx = torch.randint(0, 20, (1, 4))
    a = gpt.sample_ids(model, idx, 20, temperature=1.0, seed=3, use_cache=True)
    b = gpt.sample_ids(model, idx, 20, temperature=1.0, seed=3, use_cache=False)
    assert torch.equal(a, b) and a.shape == (1, 20)
    longer = gpt.sample_ids(model, idx, 60, seed=1, use_cache=True)    # past block_size: the cache is rebuilt
    assert longer.shape == (1, 60)


def test_ablating_a_head_changes_logits_and_restoring_gives_them_back_exactly():
    model = tiny_gpt()
    idx = torch.randint(0, 20, (2, 12))
    with torch.no_grad():
        before = model(idx)
        model.set_head_mask(1, 0)
        ablated = model(idx)
        model.set_head_mask()
        after = model(idx)
    assert (ablated - before).abs().max() > 1e-4
    assert torch.equal(before, after)


def test_ablate_head_reports_both_losses_and_leaves_the_model_unchanged():
    vocab = gpt.corpus_vocab()
    torch.manual_seed(0)
    model = CharGPT(CharGPTConfig(vocab_size=len(vocab), block_size=16, n_layer=1, n_head=2, n_embd=16)).eval()
    idx = torch.tensor([vocab.encode("the cat sat")])
    with torch.no_grad():
        before = model(idx)
    r = gpt.ablate_head(model, vocab, 0, 1, n_windows=4)
    assert r["loss"] != r["ablated"] and math.isfinite(r["delta"])
    with torch.no_grad():
        assert torch.equal(model(idx), before)
    with pytest.raises(HeroError) as err:
        gpt.ablate_head(model, vocab, 3, 0)
    assert err.value.code == "ch10.no_such_head"


def test_filter_logits_against_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 30)).astype(np.float32)
    # temperature only: softmax(logits / T)
    p = gpt.filter_logits(torch.tensor(logits), 0.5, 0, 1.0).numpy()
    e = np.exp(logits / 0.5 - (logits / 0.5).max(1, keepdims=True))
    assert np.allclose(p, e / e.sum(1, keepdims=True), atol=1e-6)
    # top-k keeps exactly the k largest
    p = gpt.filter_logits(torch.tensor(logits), 1.0, 5, 1.0).numpy()
    assert ((p > 0).sum(1) == 5).all()
    assert all(set(np.nonzero(p[i])[0]) == set(np.argsort(-logits[i])[:5]) for i in range(3))
    # top-p keeps the smallest prefix (by probability) whose mass reaches p
    full = np.exp(logits - logits.max(1, keepdims=True))
    full /= full.sum(1, keepdims=True)
    p = gpt.filter_logits(torch.tensor(logits), 1.0, 0, 0.6).numpy()
    for i in range(3):
        order = np.argsort(-full[i])
        n = int(np.searchsorted(np.cumsum(full[i][order]), 0.6) + 1)
        assert set(np.nonzero(p[i])[0]) == set(order[:n])
        assert np.isclose(p[i].sum(), 1, atol=1e-6)


def test_prompt_checks_say_what_happened():
    vocab = gpt.corpus_vocab()
    for bad, code in (("", "ch10.empty_prompt"), ("   ", "ch10.empty_prompt"), ("中文", "ch10.prompt_all_unknown")):
        with pytest.raises(HeroError) as err:
            gpt.check_prompt(bad, vocab, 16)
        assert err.value.code == code
    p = gpt.check_prompt("naïve 中 x", vocab, 16)
    assert p.dropped == sorted({"ï", "中"}) and p.text == "nave  x" and p.cut == 0
    p = gpt.check_prompt("a" * 20 + "bcd", vocab, 16)
    assert p.cut == 7 and len(p.text) == 16 and p.text.endswith("bcd")


def test_generate_lists_candidates_and_marks_the_chosen_one():
    vocab = gpt.corpus_vocab()
    torch.manual_seed(0)
    model = CharGPT(CharGPTConfig(vocab_size=len(vocab), block_size=16, n_layer=1, n_head=2, n_embd=16)).eval()
    out = gpt.generate(model, vocab, gpt.GenerateSettings(prompt="def f(x)" * 3, n_new=6, top_k=4, top_p=1.0))
    assert len(out["text"]) == 6 and len(out["steps"]) == 6 and out["cut"] == 24 - 16
    for s in out["steps"]:
        assert s["kept"] == 4 and s["chosen"] in [c for c, _ in s["candidates"][:4]]
        assert abs(sum(p for _, p in s["candidates"]) - 1) < 1e-5   # the 4 kept hold all the mass
    speed = gpt.cache_speed(model, vocab, n_new=10)
    assert speed["cache"]["text"] == speed["no_cache"]["text"] and speed["speedup"] > 0


def test_train_gpt_tiny_streams_loss_samples_and_checkpoints():
    events = []
    r = gpt.train_gpt(gpt.GPTSettings(**TINY["gpt"]), emit=events.append)
    evals = [e for e in events if e["kind"] == "eval"]
    assert r.ok and len(evals) == 2 and all(isinstance(e["sample"], str) and e["sample"] for e in evals)
    assert [s for s, _ in r.checkpoints][0] == 0 and len(r.checkpoints) >= 2
    assert math.isfinite(r.val_loss) and r.val_loss < math.log(len(r.vocab)) + 0.5
    first = gpt.model_at(r, 0)
    with torch.no_grad():
        idx = torch.tensor([r.vocab.encode("the ")])
        assert not torch.equal(first(idx), r.model(idx))               # the scrubber really shows other weights
    m = gpt.attention_for(r.model, r.vocab, gpt.REPEAT_TEXT)
    scores = gpt.head_scores(m["maps"], m["tokens"])
    assert scores["previous"].shape == (1, 2) and (scores["induction"] >= 0).all()


def test_head_scores_recognise_built_maps():
    tokens = list("abcabc")
    T = len(tokens)
    prev = np.zeros((1, 1, T, T))
    prev[0, 0, 0, 0] = 1
    for t in range(1, T):
        prev[0, 0, t, t - 1] = 1
    assert gpt.head_scores(prev, tokens)["previous"][0, 0] == 1
    ind = np.zeros((1, 1, T, T))
    for t in range(T):
        ind[0, 0, t, t - 2 if t >= 3 else 0] = 1                     # t=3 'a' → position 1 'b' follows the first 'a'
    assert gpt.head_scores(ind, tokens)["induction"][0, 0] == 1


# --------------------------------------------------------------------------- positions, shapes, cost

def test_sinusoidal_table_matches_the_formula_and_rope_depends_on_distance_only():
    table = sinusoidal_table(10, 8).numpy()
    p, i = np.arange(10)[:, None], np.arange(4)[None, :]
    assert np.allclose(table[:, 0::2], np.sin(p / 10000 ** (2 * i / 8)), atol=1e-6)
    assert np.allclose(table[:, 1::2], np.cos(p / 10000 ** (2 * i / 8)), atol=1e-6)
    sim = pos.similarity_by_distance(64, 32)
    assert sim["sinusoidal"][0] == pytest.approx(1.0) and sim["spread"][:40].max() < 1e-5
    q, k = torch.randn(1, 1, 1, 16), torch.randn(1, 1, 1, 16)
    dots = [float(rope_rotate(q, a + 3, 10000.0) @ rope_rotate(k, a, 10000.0).transpose(-1, -2)) for a in (0, 5, 40)]
    assert max(dots) - min(dots) < 1e-4                                # q·k depends on the distance (3), not the place


def test_compare_positions_trains_every_kind():
    base = gpt.GPTSettings(**{**TINY["gpt"], "steps": TINY["pos_steps"], "eval_every": 2})
    out = pos.compare_positions(base)
    assert set(out) == {"learned", "sinusoidal", "rope", "none"} and all(math.isfinite(v["val_loss"]) for v in out.values())


@pytest.mark.parametrize("d, h, ff, e, dl", [(64, 4, 256, 2, 2), (32, 1, 64, 1, 3), (128, 8, 512, 3, 1)])
def test_transformer_table_counts_match_the_formula(d, h, ff, e, dl):
    r = shapes.transformer_table(shapes.TransformerShape(d_model=d, nhead=h, dim_feedforward=ff,
                                                         num_encoder_layers=e, num_decoder_layers=dl))
    assert r["total"] == r["formula_total"] == sum(p.numel() for p in nn.Transformer(
        d, h, e, dl, ff, batch_first=True).parameters())
    assert all(row["params"] == row["formula"] for row in r["rows"])
    assert r["output"] == (2, 7, d)


def test_attention_cost_same_result_and_quadratic_memory():
    rows = shapes.attention_cost([16, 64], repeats=1)
    assert all(r["max_diff"] < 1e-5 for r in rows)
    assert rows[1]["naive_mib"] / rows[0]["naive_mib"] == pytest.approx(16)    # (64/16)²
    assert rows[1]["sdpa_mib"] / rows[0]["sdpa_mib"] == pytest.approx(4)


# --------------------------------------------------------------------------- ViT and the translator

def test_patchify_matches_loops_and_refuses_bad_sizes():
    image = np.arange(64, dtype=float).reshape(8, 8)
    patches = vit.patchify(image, 2)
    expected = [image[r:r + 2, c:c + 2] for r in range(0, 8, 2) for c in range(0, 8, 2)]
    assert patches.shape == (16, 2, 2) and np.array_equal(patches, np.stack(expected))
    with pytest.raises(HeroError) as err:
        vit.patchify(image, 3)
    assert err.value.code == "ch10.patch_divide"


def test_vit_conv_patch_embedding_equals_linear_on_patches():
    from core.nets.vit import TinyViT, TinyViTConfig
    model = TinyViT(TinyViTConfig()).eval()
    x = torch.rand(1, 1, 8, 8)
    patches = torch.tensor(vit.patchify(x[0, 0].numpy(), 2)).reshape(16, 4)
    by_hand = patches @ model.patch.weight.reshape(64, 4).T + model.patch.bias
    assert torch.allclose(model.tokens(x)[0, 1:] - model.pos[0, 1:], by_hand, atol=1e-5)


def test_vit_and_translator_train_tiny():
    r = vit.train_vit(vit.ViTSettings(epochs=TINY["vit_epochs"], dim=TINY["vit_dim"], limit=TINY["vit_limit"]))
    assert r.ok and 0 <= r.end["val_acc"] <= 1
    probs = vit.classify_image(r.model, np.zeros((8, 8), dtype=np.float32))
    assert probs.shape == (10,) and abs(probs.sum() - 1) < 1e-5
    t = tr.train_translator(tr.TranslateSettings(n_pairs=TINY["tr_pairs"], epochs=TINY["tr_epochs"],
                                                 d_model=TINY["tr_d_model"]))
    assert t.ok and "val_exact" in t.end
    src = t.task.encode_src([t.task.val[0][0]])
    ids, attn = t.model.decode(src, 12)
    assert attn.shape[0] == 1 and attn.shape[2] == src.shape[1]
    assert torch.allclose(attn.sum(-1), torch.ones(attn.shape[:2]), atol=1e-5)
    pad = (src[0] == 0)
    assert float(attn[0][:, pad].abs().max()) < 1e-6                   # padding in the source gets no attention


def test_head_view_figure_draws_lines_for_each_head():
    maps = np.full((2, 4, 4), 0.25)
    fig = heads.head_view_figure(maps, list("abcd"))
    assert len([d for d in fig.data if d.mode == "lines"]) == 2
    assert len(heads.heads_figure(maps, list("abcd")).data) == 2


def test_minilm_attention_offline():
    tokenizer, model = heads.load_minilm()
    r = heads.minilm_attention("The cat sat on the mat.", tokenizer, model)
    L, H, T, _ = r["maps"].shape
    assert (L, H) == (6, 12) and r["tokens"][0] == "[CLS]" and len(r["tokens"]) == T
    assert np.allclose(r["maps"].sum(-1), 1, atol=1e-5)
    with pytest.raises(HeroError):
        heads.minilm_attention("  ", tokenizer, model)


def test_shipped_char_gpt_loads_and_writes_from_its_vocabulary():
    from core import weights
    loaded = weights.load("ch10_char_gpt", allow_train=False)
    assert loaded.source == "shipped" and loaded.meta["metric"]["value"] < 2.5
    out = gpt.generate(loaded.model, gpt.corpus_vocab(), gpt.GenerateSettings(prompt="The ", n_new=5))
    assert len(out["text"]) == 5
