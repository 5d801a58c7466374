"""11.5 (continued) Prompting: chat templates rendered by ``tokenizer.apply_chat_template``, zero- vs
few-shot prompts on the shipped character GPT-2, and an opt-in real instruct model from the Hub that
falls back cleanly when the machine is offline."""
from __future__ import annotations

import torch

from core.errors import HeroError
from core.lessons.ch11_llm.decoding import MAX_PROMPT_CHARS

# ChatML, the format SmolLM2-Instruct (and Qwen) are trained on, written out as the Jinja template that
# ``apply_chat_template`` renders: every message between <|im_start|>role and <|im_end|>, then (with
# add_generation_prompt) an open assistant turn for the model to complete.
CHATML = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
ONLINE_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
# A task in the corpus's own register: finish a Python keyword from its description
FEW_SHOT = [("Loop over the items of a sequence", "for"), ("Leave the innermost loop", "break"),
            ("Define a function", "def"), ("Skip to the next iteration of a loop", "continue")]


def char_tokenizer(chars: str):
    """A ``PreTrainedTokenizerFast`` over the model's characters (one token each) carrying the ChatML
    template, so ``apply_chat_template`` works on the tiny model exactly as on a Hub model."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    vocab = {c: i for i, c in enumerate(chars)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token=chars[0]))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")   # every character alone
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tok, chat_template=CHATML)


def chat_messages(question: str, shots: int = 0, system: str = "You answer with one Python keyword.") -> list[dict]:
    """A system message, ``shots`` worked examples (user/assistant pairs), then the question."""
    msgs = [{"role": "system", "content": system}]
    for q, a in FEW_SHOT[:shots]:
        msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    return msgs + [{"role": "user", "content": question}]


def plain_prompt(question: str, shots: int = 0) -> str:
    """The same task as plain text in the corpus's style (the tiny model never saw chat markers)."""
    lines = [f"{q}: {a}" for q, a in FEW_SHOT[:shots]]
    return "\n".join(lines + [f"{question}:"]) if lines else f"{question}:"


def check_prompt(gpt, text: str) -> None:
    """Refuse a prompt the model cannot read: empty, or most characters outside its vocabulary (another script)."""
    text = (text or "").strip()
    if not text:
        raise HeroError("ch11.empty_prompt")
    if len(text) > MAX_PROMPT_CHARS:
        raise HeroError("ch11.text_too_long", n=len(text), limit=MAX_PROMPT_CHARS)
    unknown = [c for c in text if c not in gpt.chars and not c.isspace()]
    if len(unknown) > len(text) / 2:
        raise HeroError("ch11.unknown_script", chars=" ".join(sorted(set(unknown))[:10]))


@torch.no_grad()
def answer_logprob(gpt, prompt: str, answer: str) -> float:
    """Mean log-probability per character the model gives ``answer`` right after ``prompt`` (the context
    keeps the last n_positions characters)."""
    ids = gpt.encode(prompt + " " + answer)
    n_ans = len(gpt.encode(" " + answer))
    ids = ids[-gpt.model.config.n_positions:]
    x = torch.tensor([ids], device=gpt.model.device)
    logp = torch.log_softmax(gpt.model(x).logits[0, :-1].float(), -1)
    target = x[0, 1:]
    picked = logp[torch.arange(len(target)), target][-n_ans:]
    return float(picked.mean())


@torch.no_grad()
def zero_vs_few(gpt, question: str, answer: str | None = None, max_new: int = 12) -> list[dict]:
    """Greedy continuation of the plain prompt with 0, 1 and 4 examples, and (when ``answer`` is given)
    the mean log-probability per character of the right answer: does the context help the model?"""
    check_prompt(gpt, question)
    rows = []
    for shots in (0, 1, 4):
        prompt = plain_prompt(question, shots)
        ids = torch.tensor([gpt.encode(prompt)[-(gpt.model.config.n_positions - max_new):]], device=gpt.model.device)
        out = gpt.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new, do_sample=False,
                                 pad_token_id=0)
        rows.append({"shots": shots, "prompt": prompt, "continuation": gpt.decode(out[0, ids.shape[1]:].tolist()),
                     "answer_logprob": None if answer is None else answer_logprob(gpt, prompt, answer),
                     "prompt_chars": len(prompt), "fits": len(prompt) + max_new <= gpt.model.config.n_positions})
    return rows


def online_chat(messages: list[dict], max_new: int = 40) -> dict:
    """Opt-in: the real ``ONLINE_MODEL`` from the Hub (or the local Hub cache). Offline — HF_HUB_OFFLINE=1 or
    no network — ``from_pretrained`` fails at once and this raises ``ch11.offline`` (the page keeps the
    offline results). Returns {"rendered", "reply", "model"}."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    try:
        tok = AutoTokenizer.from_pretrained(ONLINE_MODEL)
        model = AutoModelForCausalLM.from_pretrained(ONLINE_MODEL).eval()
    except (OSError, ValueError, ImportError) as exc:      # OSError: not cached and offline / no route to the Hub
        raise HeroError("ch11.offline", model=ONLINE_MODEL, reason=type(exc).__name__) from None
    rendered = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = tok(rendered, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=max_new, do_sample=False)
    return {"rendered": rendered, "reply": tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True),
            "model": ONLINE_MODEL}
