"""Chapter 8 lessons against oracles: round trips, nn.LSTM itself, autograd, independent parsers."""
import random

import numpy as np
import pytest
import torch
from torch import nn

from core.data import ch08_text as textdata
from core.errors import HeroError
from core.lessons import ch08_nlp as lesson


# ---------------------------------------------------------------- 8.1 tokens, vocab, padding

def test_tokenize_english_words_and_chinese_characters():
    assert lesson.tokenize("I don't like 这本书!") == ["i", "don't", "like", "这", "本", "书", "!"]
    assert lesson.tokenize("March 5, 2021", split_digits=True) == ["march", "5", ",", "2", "0", "2", "1"]


def test_vocab_round_trip_and_unknowns():
    lines = ["the cat sat on the mat", "the dog sat", "猫坐在垫子上"]
    tokens = [lesson.tokenize(s) for s in lines]
    vocab = lesson.build_vocab(tokens)
    assert vocab.itos[:2] == ["<pad>", "<unk>"] and vocab.itos[2] == "the"      # most frequent first
    for toks in tokens:
        assert vocab.decode(vocab.encode(toks)) == toks                          # ids → tokens round trip
    small = lesson.build_vocab(tokens, min_freq=2)
    assert set(small.itos[2:]) == {"the", "sat"}
    assert small.encode(["cat"]) == [1]
    capped = lesson.build_vocab(tokens, max_size=5)
    assert len(capped) == 5 and capped.dropped == len(set(sum(tokens, []))) - 3


def test_padding_and_mask_shapes():
    ids, mask = lesson.pad_batch([[5, 6, 7], [8], [9, 10, 11, 12, 13]], max_len=4)
    assert ids.shape == mask.shape == (3, 4)
    assert ids.tolist() == [[5, 6, 7, 0], [8, 0, 0, 0], [9, 10, 11, 12]]
    assert mask.sum(1).tolist() == [3, 1, 4]
    demo = lesson.tokenizer_demo("a b c\nb c\nc", max_len=10)
    assert demo["ids"].shape == (3, 3) and demo["mask"].tolist() == [[1, 1, 1], [1, 1, 0], [1, 0, 0]]
    assert demo["decoded"] == demo["tokens"]


def test_empty_and_long_text():
    with pytest.raises(HeroError) as err:
        lesson.tokenizer_demo("   \n ")
    assert err.value.code == "ch08.empty_text"
    assert lesson.tokenizer_demo("word " * 1000)["truncated"]


def test_embedding_is_a_lookup():
    ids, _ = lesson.pad_batch([[2, 3, 4], [5]])
    out = lesson.embedding_lookup(ids, 6, dim=4)
    assert out["shape"] == (2, 3, 4) and out["max_diff"] == 0.0 and out["pad_row_zero"]
    assert torch.equal(out["out"][0, 1], out["weight"][3])


# ---------------------------------------------------------------- 8.2 skip-gram

def test_skipgram_pairs_match_a_brute_force_window():
    ids = np.arange(10, 20)
    pairs = lesson.skipgram_pairs(ids, 2, np.random.default_rng(0))
    for c, o in pairs:
        assert 1 <= abs(c - o) <= 2                  # only neighbours within the window
    assert {(11, 10), (10, 11)} <= {tuple(p) for p in pairs}   # offset 1 is always inside a window ≥ 1


def test_skipgram_learns_cooccurrence():
    s = lesson.SkipGramSettings(epochs=2, max_tokens=15000, max_vocab=400, min_count=3, dim=24, lr=0.02)
    result = lesson.train_skipgram(s)
    assert result.ok
    first, last = np.mean(result.losses[:5]), np.mean(result.losses[-5:])
    assert last < 0.8 * first
    # words that co-occur get closer than random pairs of words
    words = lesson.corpus_tokens(s.max_tokens)
    ids = np.array([i for i in result.vocab.encode(words) if i > 1])
    unit = torch.nn.functional.normalize(result.vectors, dim=1)
    neighbours = torch.tensor(np.stack([ids[:-1], ids[1:]], 1))
    rng = np.random.default_rng(1)
    random_pairs = torch.tensor(rng.integers(2, len(result.vocab), size=(len(neighbours), 2)))
    cos = lambda p: (unit[p[:, 0]] * unit[p[:, 1]]).sum(1).mean().item()
    assert cos(neighbours) > cos(random_pairs) + 0.05
    near = lesson.nearest_words(result.vectors, result.vocab, result.vocab.itos[5], k=3)
    assert len(near) == 3 and near[0][1] >= near[-1][1]
    with pytest.raises(HeroError):
        lesson.nearest_words(result.vectors, result.vocab, "zzzznotaword")
    assert lesson.project_2d(result.vectors, 50).shape == (50, 2)


# ---------------------------------------------------------------- 8.3–8.4 gradients and gates

def test_gradient_norms_match_autograd_and_rnn_vanishes_faster():
    comp = lesson.gradient_comparison(40, seed=0)
    rnn, lstm = comp["norms"]["rnn"], comp["norms"]["lstm"]
    assert rnn.shape == lstm.shape == (40,)
    # decay from the last step back to the first: the plain tanh RNN loses orders of magnitude more
    assert rnn[0] / rnn[-1] < 1e-3 * (lstm[0] / lstm[-1])   # (forget bias 1, the default)
    # finite-difference oracle for one step of the plain RNN
    torch.manual_seed(0)
    layer = nn.RNN(16, 32, batch_first=True).double()       # same init as the lesson's, in float64
    x = torch.randn(1, 40, 16, generator=torch.Generator().manual_seed(1)).double()
    readout = torch.randn(32, generator=torch.Generator().manual_seed(2)).double()
    loss = lambda inp: float(layer(inp)[0][0, -1].detach() @ readout)
    eps, t = 1e-4, 38
    grads = []
    for d in range(16):
        e = torch.zeros_like(x)
        e[0, t, d] = eps
        grads.append((loss(x + e) - loss(x - e)) / (2 * eps))
    assert np.linalg.norm(grads) == pytest.approx(rnn[t], rel=1e-3)


def test_bad_sequence_length():
    with pytest.raises(HeroError) as err:
        lesson.gradient_through_time("rnn", 1000)
    assert err.value.code == "ch08.bad_length"


def test_step_by_step_gates_reproduce_nn_lstm():
    torch.manual_seed(3)
    lstm = nn.LSTM(8, 12, batch_first=True)
    x = torch.randn(9, 8)
    g = lesson.lstm_gates(lstm, x)
    ref, _ = lstm(x.unsqueeze(0))
    assert np.allclose(g["h"], ref[0].detach().numpy(), atol=1e-6) and g["max_diff"] < 1e-5
    for gate in ("input", "forget", "output"):
        assert g[gate].shape == (9, 12) and (g[gate] >= 0).all() and (g[gate] <= 1).all()
    demo = lesson.gate_demo("the movie was not good")
    assert demo["input"].shape == (5, 16) and demo["max_diff"] < 1e-5 and not demo["trained"]


# ---------------------------------------------------------------- 8.5 seq2seq

def parse_en(words: str) -> int:
    """Independent parser: accumulate word values (hundred/thousand multiply)."""
    small = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve "
                                        "thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())}
    small.update({w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)})
    total, current = 0, 0
    for w in words.split():
        if w == "hundred":
            current *= 100
        elif w == "thousand":
            total, current = total + current * 1000, 0
        else:
            current += small[w]
    return total + current


KNOWN_ZH = {0: "零", 5: "五", 10: "十", 12: "十二", 20: "二十", 105: "一百零五", 110: "一百一十", 342: "三百四十二",
            999: "九百九十九", 1000: "一千", 1001: "一千零一", 2010: "二千零一十", 3405: "三千四百零五"}


def test_number_words_generators():
    for n in range(10000):
        assert parse_en(textdata.number_words_en(n)) == n
    assert textdata.number_words_en(342) == "three hundred forty two"
    for n, words in KNOWN_ZH.items():
        assert textdata.number_words_zh(n) == words
    assert len({textdata.number_words_zh(n) for n in range(10000)}) == 10000      # no two numbers collide
    assert textdata.date_words_en(2021, 3, 5) == "March 5, 2021"
    assert textdata.date_words_zh(2021, 3, 5) == "二〇二一年三月五日"
    rng = random.Random(0)
    for task in lesson.TASKS:
        src, tgt = lesson.task_pair(task, rng)
        if task == "num_en":
            assert parse_en(src) == int(tgt)


def test_seq2seq_learns_number_words():
    s = lesson.Seq2SeqSettings(task="num_en", n_pairs=1200, epochs=4, batch_size=32, lr=5e-3, hidden=64)
    result = lesson.train_seq2seq(s)
    assert result.ok and "val_exact" in result.history[-1]
    assert result.history[-1]["val_exact"] >= 0.5               # from 0 at init; bench measures ≥ 90 %
    assert result.history[-1]["val_loss"] < result.history[0]["val_loss"]
    out = lesson.translate(result, "three hundred forty two")
    assert out["attention"].shape[1] == 4 and np.allclose(out["attention"].sum(1), 1, atol=1e-5)
    assert lesson.translate(result, "blorp " * 30)["truncated"]


# ---------------------------------------------------------------- 8.7 sentiment

def test_sentiment_data_counts():
    zh = textdata.sentiment_zh()
    assert zh.extra == {"pos": 16548, "neg": 18576} and len(zh) == 35124
    assert sum(zh.labels) == 16548
    en = textdata.sentiment_en()
    assert 1000 <= len(en) < len(zh) and sum(en.labels) == len(en) // 2


def test_online_english_falls_back_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = textdata.sentiment_en_online()
    assert data.name == "generated_en" and "offline" in data.note


def test_sentiment_beats_majority_and_contributions_per_token():
    s = lesson.SentimentSettings(source="en", epochs=2, limit=1200, max_len=24, hidden=32, embed_dim=32)
    result = lesson.train_sentiment(s)
    assert result.ok
    assert result.end["val_acc"] > result.counts["majority"] + 0.1
    out = lesson.classify(result, "the movie was great , i loved it")
    assert len(out["contributions"]) == len(out["tokens"]) == 8 and 0 <= out["p_pos"] <= 1
    # the occlusion oracle: recompute one contribution by hand
    ids = torch.tensor([result.vocab.encode(out["tokens"])])
    occluded = ids.clone()
    occluded[0, 3] = 1
    with torch.no_grad():
        p = lambda x: result.model(x).softmax(-1)[0, 1].item()
    assert out["contributions"][3] == pytest.approx(p(ids) - p(occluded), abs=1e-5)
    with pytest.raises(HeroError):
        lesson.classify(result, "   ")


def _run_takehome(text: str, tmp_path) -> list[str]:
    """Run a take-home script as test_takehome does (empty folder, HERO_TINY=1, repo not importable)."""
    from tests.test_takehome import run_script
    done = run_script("script.py", text, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.splitlines()


@pytest.mark.parametrize("source, cell", [("en", "lstm"), ("zh", "gru")])
def test_sentiment_script_reproduces_the_run_it_claims(tmp_path, source, cell):
    """The download trains on the run's own reviews (an English run stays English), with the same
    split, vocabulary and seed: its printed summary equals the lesson's own run under TINY."""
    import json
    s = lesson.SentimentSettings(source=source, cell=cell, max_len=24, hidden=32, embed_dim=32, vocab_size=500,
                                 seed=3, epochs=4, limit=0)
    printed = json.loads(_run_takehome(lesson.sentiment_script(s), tmp_path)[0])
    expected = lesson.run_summary(lesson.train_sentiment(lesson.take_home.tiny(s)))
    assert printed["source"] == expected["source"] and printed["cell"] == cell
    assert printed["counts"] == expected["counts"] and printed["counts"]["train"] + printed["counts"]["val"] == 1500
    assert printed["vocab_size"] == expected["vocab_size"] and printed["vocab_head"] == expected["vocab_head"]
    assert [row[0] for row in printed["curve"]] == [row[0] for row in expected["curve"]]
    assert np.allclose([row[1:] for row in printed["curve"]], [row[1:] for row in expected["curve"]], atol=1e-4)
    assert printed["val_acc"] == pytest.approx(expected["val_acc"], abs=1e-6)


def test_gru_and_lstm_compared_on_the_same_data_and_seed():
    s = lesson.SentimentSettings(source="en", epochs=1, limit=600, max_len=24, hidden=16, embed_dim=16, seed=1)
    events = []
    c = lesson.compare_cells(s, emit=events.append)
    assert c.ok and list(c.runs) == ["gru", "lstm"]
    gru, lstm = c.runs["gru"], c.runs["lstm"]
    assert gru.vocab.itos == lstm.vocab.itos and gru.counts == lstm.counts       # same data, split, vocabulary
    assert isinstance(gru.model.rnn, nn.GRU) and isinstance(lstm.model.rnn, nn.LSTM)
    alone = lesson.train_sentiment(lesson.SentimentSettings(**{**gru.settings}))
    assert lesson.run_summary(alone)["curve"] == lesson.run_summary(gru)["curve"]  # as a single run with that seed
    steps = [e for e in events if e.get("total_steps")]
    assert [e["step"] for e in steps] == list(range(1, len(steps) + 1))           # one bar over both runs
    assert {e["total_steps"] for e in steps} == {len(steps)}
    assert {e["run"] for e in events if e["kind"] == "eval"} == {"gru", "lstm"}
    rows = lesson.comparison_table(c)
    assert [r["cell"] for r in rows] == ["GRU", "LSTM"] and rows[1]["parameters"] > rows[0]["parameters"]
    stop = __import__("threading").Event()
    stop.set()
    stopped = lesson.compare_cells(s, stop)
    assert list(stopped.runs) == ["gru"] and not stopped.ok                         # a stop ends the comparison


def test_generated_scripts_are_valid_python():
    import subprocess
    import sys
    compile(lesson.compare_script(lesson.SentimentSettings(cell="lstm")), "ch08_gru_vs_lstm.py", "exec")
    out = subprocess.run([sys.executable, "-c", lesson.TORCHTEXT_REPLACEMENT], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "tensor([[" in out.stdout and "True" in out.stdout


# --------------------------------------------------------------------------- device through every run

@pytest.mark.parametrize("arch", ["ch08_rnn_classifier", "ch08_seq2seq", "ch08_skipgram"])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_text_nets_create_no_tensor_off_the_input_device(arch, cell):
    """A forward pass entirely on the ``meta`` device: any tensor a net makes on the CPU by default
    (``torch.zeros(...)`` for a hidden state) would raise a device mismatch here, as it would on a GPU."""
    from core import nets
    config_cls, _ = nets.REGISTRY[arch]
    config = config_cls(cell=cell) if arch == "ch08_rnn_classifier" else config_cls()
    model = nets.build(arch, config).to("meta")
    (x,) = nets.EXAMPLES[arch](config)
    out = model(x.to("meta"))
    assert out.device.type == "meta" and out.shape[0] == x.shape[0]


@pytest.mark.parametrize("module, train, settings", [
    ("word_vectors", "train_skipgram", lambda: lesson.SkipGramSettings(max_tokens=3000, device="meta")),
    ("translation", "train_seq2seq", lambda: lesson.Seq2SeqSettings(n_pairs=100, device="meta")),
    ("sentiment", "train_sentiment", lambda: lesson.SentimentSettings(source="en", limit=200, device="meta")),
])
def test_training_lessons_put_model_and_fit_on_the_settings_device(monkeypatch, module, train, settings):
    """Each lesson hands ``settings.device`` to ``fit`` and has moved its model there first."""
    import importlib
    mod = importlib.import_module(f"core.lessons.ch08_nlp.{module}")
    seen = {}

    class Reached(Exception):
        pass

    def fake_fit(model, *args, device="cpu", callbacks=(), **kwargs):
        seen["fit"] = str(device)
        seen["model"] = next(model.parameters()).device.type
        raise Reached
        yield  # a generator, like fit

    monkeypatch.setattr(mod, "fit", fake_fit)
    with pytest.raises(Reached):
        getattr(lesson, train)(settings())
    assert seen == {"fit": "meta", "model": "meta"}


def test_trained_models_come_back_on_the_cpu_and_decode_there():
    r = lesson.train_seq2seq(lesson.Seq2SeqSettings(n_pairs=100, epochs=1))
    assert next(r.model.parameters()).device.type == "cpu"
    out = lesson.translate(r, "twelve")
    assert out["attention"].dtype == np.float32 and isinstance(out["output"], str)


def test_trainer_checks_registered_for_every_training_lesson():
    from core.lessons import TRAINERS
    assert {"ch08_skipgram", "ch08_seq2seq", "ch08_sentiment"} <= set(TRAINERS)
    got = TRAINERS["ch08_sentiment"]("cpu", "tiny")
    assert got["val_acc"] > got["majority"]
