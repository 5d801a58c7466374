"""Chapter 11 lessons against oracles: tokenizer round trips, mean pooling by hand, cosine vs NumPy,
the memory formula vs a measured GPT-2, and decoding through generate."""
import numpy as np
import pytest
import torch

from core.errors import HeroError
from core.lessons.ch11_llm import cost, decoding, search, sentiment, tokens


@pytest.fixture(scope="module")
def minilm():
    return tokens.load_minilm()


def test_wordpiece_ids_offsets_and_specials(minilm):
    tok, _ = minilm
    rows = tokens.wordpiece_table("Tokenizers split unbelievable words.", tok)
    assert rows[0]["token"] == "[CLS]" and rows[-1]["token"] == "[SEP]" and rows[0]["special"] and rows[-1]["special"]
    assert [r["id"] for r in rows] == tok.convert_tokens_to_ids([r["token"] for r in rows])     # oracle: the vocab
    assert all(r["mask"] == 1 for r in rows)
    for r in rows[1:-1]:                                        # offsets cover the piece's characters
        assert r["text"].lower() == r["token"].removeprefix("##")
    zh = tokens.wordpiece_table("今天天气很好", tok)
    assert len(zh) == 6 + 2                                     # one piece (or [UNK]) per Chinese character


def test_bpe_round_trip_and_token_tax(minilm):
    tok, _ = minilm
    bpe = tokens.train_bpe(300, 20000)
    for text in ["def f(x): return x ** 2", tokens.SAMPLES["en"], tokens.SAMPLES["zh"], "naïve ☕"]:
        assert bpe.decode(bpe.encode(text).ids) == text          # byte level: nothing is lost, even unseen scripts
    rows = tokens.token_tax(tokens.SAMPLES, tok, bpe)
    by = {(r["text"], r["tokenizer"]): r for r in rows}
    assert by[("zh", "char")]["tokens"] == len(tokens.SAMPLES["zh"])
    assert by[("zh", "bpe")]["per_char"] > by[("en", "bpe")]["per_char"]     # the tax: Chinese pays more per char under an English BPE
    assert by[("zh", "wordpiece")]["unk"] > 0
    assert by[("en", "wordpiece")]["window_share"] == pytest.approx(by[("en", "wordpiece")]["tokens"] / 512)


def test_bad_text_is_refused():
    with pytest.raises(HeroError) as e:
        tokens.check_text("   ")
    assert e.value.code == "ch11.empty_text"
    with pytest.raises(HeroError) as e:
        tokens.check_text("x" * (tokens.MAX_TEXT_CHARS + 1))
    assert e.value.code == "ch11.text_too_long"


def test_mean_pool_by_hand_and_cosine_vs_numpy(minilm, tmp_path):
    tok, model = minilm
    texts = ["A list is mutable.", "Tuples cannot be changed after they are created, unlike lists."]
    emb = search.embed(texts, tok, model)
    enc = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        h = model(**enc).last_hidden_state.numpy()
    m = enc["attention_mask"].numpy()
    for i in range(2):                                          # by hand: average only the real tokens
        v = h[i, m[i] == 1].mean(0)
        np.testing.assert_allclose(emb[i], v / np.linalg.norm(v), atol=1e-5)
    q = np.random.default_rng(0).normal(size=(3, 384))
    ref = np.array([[a @ b / np.linalg.norm(a) / np.linalg.norm(b) for b in emb] for a in q])
    np.testing.assert_allclose(search.cosine(q, emb), ref, atol=1e-6)
    paras = search.paragraphs(6)
    first, cached = search.corpus_embeddings(paras, tok, model, tmp_path)
    again, cached2 = search.corpus_embeddings(paras, tok, model, tmp_path)
    assert not cached and cached2 and np.array_equal(first, again)
    hit = search.search(paras[3][:200], paras, first, tok, model, k=3)
    assert hit["hits"][0]["index"] == 3 and hit["hits"][0]["score"] > hit["hits"][1]["score"]
    pts, qp = search.pca_2d(first, hit["query_vec"])
    assert pts.shape == (6, 2) and qp.shape == (1, 2)
    with pytest.raises(HeroError):
        search.search(" ", paras, first, tok, model)


def test_frozen_features_learn_sentiment(minilm):
    tok, model = minilm
    r = sentiment.frozen_sentiment(sentiment.FrozenSettings(n=60), tok, model)
    assert r["n_val"] == 15 and r["val_acc"] >= 0.7
    p = sentiment.predict_sentiment(["this movie was wonderful, i loved it", "terrible, a waste of money"],
                                    r["classifier"], tok, model)
    assert p[0] > p[1]


def test_cost_formula_matches_measurement():
    m = cost.measure_small()
    assert m["params"] == m["params_formula"]                  # exact count
    for key in ("weight_bytes", "optimizer_bytes", "kv_bytes"):  # stated tolerance: 1 %
        assert abs(m[key] - m[f"{key}_formula"]) <= 0.01 * m[key]
    from transformers import GPT2Config, GPT2LMHeadModel
    with torch.device("meta"):                                  # real GPT-2 small, no memory spent
        real = sum(p.numel() for p in GPT2LMHeadModel(GPT2Config()).parameters())
    assert cost.n_params(cost.CONFIGS["GPT-2 small"]) == real
    assert 6.7e9 < cost.n_params(cost.CONFIGS["Llama-2-7B"]) < 6.8e9
    assert 68e9 < cost.n_params(cost.CONFIGS["Llama-2-70B"]) < 70e9
    bf16, int4 = cost.memory(cost.CONFIGS["Llama-2-7B"], "bf16", training=False), cost.memory(
        cost.CONFIGS["Llama-2-7B"], "int4", training=False)
    assert bf16["weights"] == 4 * int4["weights"] and bf16["kv_cache"] == 4 * int4["kv_cache"]


def test_decoding_strategies_through_generate():
    gpt = decoding.train_char_gpt(decoding.TinyGPTSettings(n_layer=1, n_embd=16, n_head=2, block_size=16, steps=3,
                                                           batch_size=2, max_chars=5000))
    assert len(gpt.losses) == 3
    r = decoding.decode_all(gpt, "def ", 6)
    assert [x["strategy"] for x in r["rows"]] == list(decoding.STRATEGIES)
    assert all(len(x["text"]) == 6 for x in r["rows"])
    assert len(r["beams"]) == 4 and r["beams"][0]["logprob"] >= r["beams"][-1]["logprob"]
    greedy = gpt.model.generate(torch.tensor([gpt.encode("def ")]), max_new_tokens=6, do_sample=False, pad_token_id=0)
    assert r["rows"][0]["text"] == gpt.decode(greedy[0, 4:].tolist())
    with pytest.raises(HeroError) as e:
        decoding.decode_all(gpt, "你好", 4)
    assert e.value.code == "ch11.unknown_script"


def test_finetune_trains_a_private_copy(minilm):
    tok, model = minilm
    before = {k: v.clone() for k, v in model.state_dict().items()}
    events = []
    r = sentiment.finetune_sentiment(sentiment.FineTuneSettings(n=40, steps=2, batch_size=4, eval_every=1), tok, model,
                                     emit=events.append)
    assert [e["step"] for e in events if e["kind"] == "eval"] == [1, 2] and 0 <= r["val_acc"] <= 1
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())       # the cached model is untouched
    assert not all(torch.equal(before[k], v) for k, v in r["encoder"].state_dict().items())
    files = sentiment.finetuned_files(r, tok)
    assert {"config.json", "model.safetensors", "head.safetensors"} <= set(files)


def test_beam_tree_matches_generate():
    gpt = decoding.train_char_gpt(decoding.TinyGPTSettings(n_layer=1, n_embd=16, n_head=2, block_size=16, steps=5,
                                                           batch_size=2, max_chars=5000))
    tree = decoding.beam_tree(gpt, "def ", 5, 3)
    ids = torch.tensor([gpt.encode("def ")])
    ref = gpt.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=5, min_new_tokens=5, num_beams=3,
                             do_sample=False, length_penalty=0.0, pad_token_id=0)
    assert tree["best"] == gpt.decode(ref[0, 4:].tolist())                  # oracle: transformers' own beam search
    assert len(tree["steps"]) == 5 and all(sum(c["kept"] for c in layer) == 3 for layer in tree["steps"])
    assert decoding.tree_figure(tree).data
