"""Chapter 11, second half, against oracles: the shipped GPT-2, LoRA counts vs peft's own and memory vs
cost.py, the chat template vs the ChatML string by hand, the offline fallback, WEAT vs a NumPy
reimplementation, NER/QA label alignment, and Trainer vs the plain loop."""
import itertools
import time

import numpy as np
import pytest
import torch

from core.errors import HeroError
from core.lessons.ch11_llm import bias, decoding, heads, hf_trainer, lora, prompting, tokens


@pytest.fixture(scope="module")
def gpt():
    return decoding.shipped_char_gpt()


@pytest.fixture(scope="module")
def minilm():
    return tokens.load_minilm()


def test_shipped_gpt_is_checked_and_writes_python_prose(gpt):
    from core import weights
    entry = weights.read_manifest()["checkpoints"]["ch11_char_gpt2"]
    assert gpt.source == "shipped" and entry["bytes"] <= 4 * 2**20 and entry["metric"]["value"] < 2.0
    assert weights.sha256_file(weights.SHIPPED_DIR / entry["file"]) == entry["sha256"]
    text = decoding.decode_all(gpt, "The value of ", 20)["rows"][0]["text"]
    assert len(text) == 20
    # a trained model beats uniform guessing by far on held-out text (log 103 ≈ 4.6 nats)
    from core.data.ch08_text import corpus_text
    from core.recipes.ch11 import held_out_loss
    assert held_out_loss(gpt, corpus_text()[-20000:], windows=16) < 2.2


@pytest.mark.parametrize("targets", ["attn", "all"])
def test_lora_trainable_count_matches_peft_and_formula(gpt, targets):
    model = lora.lora_model(gpt.model, lora.LoraSettings(r=4, targets=targets))
    trainable, total = lora.trainable_count(model)
    assert (trainable, total) == model.get_nb_trainable_parameters()          # oracle: peft's own count
    c = gpt.model.config
    assert trainable == lora.lora_count_formula(c.n_layer, c.n_embd, 4, targets)
    assert total - trainable == sum(p.numel() for p in gpt.model.parameters())


def test_lora_starts_at_the_base_model_and_merges_exactly(gpt):
    model = lora.lora_model(gpt.model, lora.LoraSettings(r=4))
    x = torch.tensor([gpt.encode("def f(x): return x")])
    with torch.no_grad():
        torch.testing.assert_close(model(input_ids=x).logits, gpt.model(x).logits)   # B = 0 at the start
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.add_(0.01 * torch.randn_like(p))
        adapted = model(input_ids=x).logits
        merged = model.merge_and_unload()(x).logits                                  # W + (alpha / r)·B·A folded in
    torch.testing.assert_close(merged, adapted, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(adapted, gpt.model(x).logits)


def test_lora_rank_larger_than_the_layer_is_refused(gpt):
    limit = gpt.model.config.n_embd
    assert lora.rank_limit(gpt.model, lora.TARGETS["attn"]) == limit
    with pytest.raises(HeroError) as e:
        lora.lora_model(gpt.model, lora.LoraSettings(r=limit + 1))
    assert e.value.code == "ch11.lora_rank" and e.value.params["limit"] == limit


def test_step_memory_measured_matches_cost_formula(gpt):
    cmp = lora.memory_compare(gpt, lora.LoraSettings(r=8), batch=2)
    for run in ("full", "lora"):
        m, p = cmp[run]["measured"], cmp[run]["predicted"]
        for term in ("weights", "gradients", "optimizer"):                        # exact: counted tensor by tensor
            assert m[term] == p[term], (run, term)
        assert 0.1 < m["activations"] / p["activations"] < 10                      # stated: an order of magnitude
    assert cmp["lora"]["measured"]["gradients"] < cmp["full"]["measured"]["gradients"] / 20
    assert len(lora.memory_rows(cmp)) == 5


def test_lora_run_lowers_review_loss(gpt):
    r = lora.train_lora(gpt, lora.LoraSettings(r=4, steps=3, batch_size=4, lr=1e-2))
    assert len(r["losses"]) == 3 and r["loss_after"] < r["loss_before"]
    assert type(r["model"]).__name__ == "GPT2LMHeadModel"
    assert all(torch.equal(a, b) for a, b in zip(gpt.model.state_dict().values(), decoding.shipped_char_gpt().model.state_dict().values()))
    samples = lora.compare_samples(gpt, r["model"], n_new=5)
    assert set(samples) == {"base", "lora"} and all(len(v) == 5 for v in samples.values())


def test_char_tokenizer_round_trip_and_chat_template(gpt):
    tok = prompting.char_tokenizer(gpt.chars)
    for text in ["def f(x):\n    return x", "The value of  spaces", gpt.chars]:
        assert tok(text)["input_ids"] == gpt.encode(text)                         # oracle: the model's own encoding
        assert tok.decode(tok(text)["input_ids"]) == text
    msgs = prompting.chat_messages("Raise an exception", 1)
    by_hand = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in msgs) + "<|im_start|>assistant\n"
    assert tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True) == by_hand


def test_zero_vs_few_and_unknown_script(gpt):
    rows = prompting.zero_vs_few(gpt, "Raise an exception", "raise", max_new=6)
    assert [r["shots"] for r in rows] == [0, 1, 4] and all(len(r["continuation"]) == 6 for r in rows)
    assert rows[2]["prompt"].count("\n") == 4 and not rows[2]["fits"]
    lp = prompting.answer_logprob(gpt, "Raise an exception:", "raise")
    ids = gpt.encode("Raise an exception: raise")
    with torch.no_grad():
        logp = torch.log_softmax(gpt.model(torch.tensor([ids])).logits[0], -1)
    by_hand = np.mean([logp[i - 1, ids[i]].item() for i in range(len(ids) - 6, len(ids))])   # " raise": 6 characters
    assert lp == pytest.approx(by_hand, abs=1e-5)
    for bad, code in [("今天天气很好", "ch11.unknown_script"), ("  ", "ch11.empty_prompt")]:
        with pytest.raises(HeroError) as e:
            prompting.zero_vs_few(gpt, bad)
        assert e.value.code == code


def test_online_model_fails_fast_offline():
    start = time.perf_counter()
    with pytest.raises(HeroError) as e:
        prompting.online_chat(prompting.chat_messages("hi"))
    assert e.value.code == "ch11.offline" and time.perf_counter() - start < 20


def weat_by_hand(X, Y, A, B):
    """WEAT with plain loops: cosine by formula, all equal-size re-splits enumerated."""
    cos = lambda u, v: float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))      # noqa: E731
    s = lambda w: np.mean([cos(w, a) for a in A]) - np.mean([cos(w, b) for b in B])   # noqa: E731
    W = list(X) + list(Y)
    sw = [s(w) for w in W]
    stat = sum(sw[:len(X)]) - sum(sw[len(X):])
    d = (np.mean(sw[:len(X)]) - np.mean(sw[len(X):])) / np.std(sw, ddof=1)
    splits = list(itertools.combinations(range(len(W)), len(X)))
    perm = [sum(sw[i] for i in c) - sum(sw[i] for i in range(len(W)) if i not in c) for c in splits]
    return d, np.mean([p >= stat - 1e-12 for p in perm])


def test_weat_matches_numpy_reimplementation():
    rng = np.random.default_rng(0)
    unit = lambda n: (v := rng.normal(size=(n, 16))) / np.linalg.norm(v, axis=1, keepdims=True)   # noqa: E731
    X, Y, A, B = unit(5), unit(5), unit(4), unit(4)
    X, Y = X + 2 * A.mean(0), Y + 2 * B.mean(0)                                 # X leans towards A, Y towards B
    X, Y = (V / np.linalg.norm(V, axis=1, keepdims=True) for V in (X, Y))
    r = bias.weat(X, Y, A, B, n_perm=10000)
    d, p = weat_by_hand(X, Y, A, B)
    assert r["exact"] and r["n_splits"] == 252
    assert r["effect_size"] == pytest.approx(d, abs=1e-9) and r["p_value"] == pytest.approx(p, abs=1e-12)
    assert r["effect_size"] > 0.5 and r["p_value"] < 0.05


def test_weat_on_minilm_and_bad_word_lists(minilm):
    tok, model = minilm
    r = bias.run_weat(bias.TESTS["flowers_insects"], tok, model, n_perm=500)
    assert r["effect_size"] > 0.8 and r["p_value"] < 0.05 and not r["exact"]   # the sanity check holds
    with pytest.raises(HeroError) as e:
        bias.parse_words("rose")
    assert e.value.code == "ch11.weat_words"
    assert bias.parse_words("a, b\nc") == ["a", "b", "c"]
    assert bias.association_figure(r, {}).data


def test_ner_labels_sit_on_first_pieces_and_qa_spans_decode_to_answers(minilm):
    tok, _ = minilm
    items = heads.ner_examples(8, seed=3)
    enc = heads.ner_batch(tok, items)
    for b, (words, tags) in enumerate(items):
        labelled = [(enc.word_ids(b)[i], heads.TAGS[int(lab)]) for i, lab in enumerate(enc["labels"][b]) if lab >= 0]
        assert labelled == list(enumerate(tags))                                # one label per word, its own tag
    qa = heads.qa_examples(8, seed=3)
    enc = heads.qa_batch(tok, qa)
    for b, x in enumerate(qa):
        assert x["context"][x["start"]:x["start"] + len(x["answer"])] == x["answer"]
        span = enc["input_ids"][b, enc["start_positions"][b]:enc["end_positions"][b] + 1]
        assert tok.decode(span) == x["answer"]                                  # oracle: the tokenizer's own decode


def test_heads_train_and_answer(minilm):
    tok, _ = minilm
    s = heads.HeadSettings(n_train=16, n_val=8, steps=2, batch_size=4, eval_every=1)
    ner = heads.train_head("ner", s, tok)
    assert [e["step"] for e in ner["evals"]] == [1, 2] and 0 <= ner["val_acc"] <= 1
    pairs = heads.tag_words("alan turing moved to paris", ner["model"], tok)
    assert [w for w, _ in pairs] == ["alan", "turing", "moved", "to", "paris"] and all(t in heads.TAGS for _, t in pairs)
    qa = heads.train_head("qa", s, tok)
    ctx = "guido works at cern . ada lovelace lives in paris ."
    a = heads.answer("where does ada lovelace live ?", ctx, qa["model"], tok)
    assert ctx[a["start"]:a["end"]] == a["answer"] and a["answer"]
    assert "orange-background" in heads.highlighted_markdown(ctx, a["start"], a["end"])
    with pytest.raises(HeroError):
        heads.answer("why?", "x" * (heads.MAX_CONTEXT_CHARS + 1), qa["model"], tok)


def test_trainer_and_plain_loop_same_data_same_start(minilm):
    tok, _ = minilm
    s = hf_trainer.TrainerSettings(n=24, batch_size=8)
    a, b = hf_trainer.classifier(0), hf_trainer.classifier(0)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))   # same init
    events = []
    r = hf_trainer.both(s, tok, emit=events.append)
    assert {e["run"] for e in events} == {"trainer", "plain"}
    steps = (18 + 7) // 8                                                      # 18 training reviews, batch 8
    assert len(r["trainer"]["losses"]) == len(r["plain"]["losses"]) == steps
    # same start: the first losses agree to within what different shuffles allow
    assert abs(r["trainer"]["losses"][0]["loss"] - r["plain"]["losses"][0]["loss"]) < 0.3
    files = hf_trainer.pretrained_files(r["plain"]["model"], tok)
    assert {"config.json", "model.safetensors"} <= set(files)
