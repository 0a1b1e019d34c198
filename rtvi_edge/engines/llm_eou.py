"""The LLM's end-of-turn probability: P(<|im_end|>) right after the user's words.

As LiveKit's turn detector does (a SmolLM2 fine-tuned for it): the conversation
goes through the model's chat template, the text is cut just before the
end-of-turn token that closes the user's message, and the model's probability
for that token next is the probability that the user has finished. Here the
model is the one that answers (no second model in memory), and the messages
are exactly those the answer will be given (system prompt, history, the words
so far): the tokens evaluated for the probability are the prefix of the
answer's prompt, which llama.cpp keeps in its cache, so the answer that follows
only evaluates the few tokens after them. Costs what the answer's prompt would
cost anyway, plus a softmax.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

END_OF_TURN = "<|im_end|>"
# A model that was not trained for this (the device's SmolLM2-135M-Instruct) expects
# more after a command ("Set a timer for ten minutes" → P(<|im_end|>) ≈ 0.003), but
# it does know where a sentence can end: the user's words are scored without their
# closing mark, and the mass of the marks that end a sentence counts with the
# end-of-turn token. (Whisper closes fragments with marks too: "Is it going to?")
SENTENCE_ENDS = (".", "?", "!")
_TRAILING = re.compile(r"[\s.?!,;:…\-—]+$")


def _formatter(llm: Any) -> Any:
    """The function that turns messages into the prompt text, as create_chat_completion
    does for this model; None when its chat format is not one we can reproduce."""
    from llama_cpp import llama_chat_format

    if llm.chat_format == "chat_template.default":
        eos = llm._model.token_get_text(llm.token_eos())
        bos = llm._model.token_get_text(llm.token_bos())
        return llama_chat_format.Jinja2ChatFormatter(
            template=llm.metadata["tokenizer.chat_template"], eos_token=eos, bos_token=bos
        )
    if llm.chat_format == "chatml":
        return llama_chat_format.format_chatml
    return None


def eou_prompt_tokens(llm: Any, messages: list[dict[str, Any]]) -> list[int] | None:
    """The answer's prompt tokens up to the user's last word (None: not a ChatML model)."""
    formatter = _formatter(llm)
    if formatter is None:
        return None
    last = dict(messages[-1])
    last["content"] = _TRAILING.sub("", str(last.get("content", "")))
    result = formatter(messages=[*messages[:-1], last])
    text: str = result.prompt
    cut = text.rfind(END_OF_TURN)
    if cut <= 0:
        return None
    tokens: list[int] = llm.tokenize(
        text[:cut].encode("utf-8"), add_bos=not result.added_special, special=True
    )
    return tokens


def end_of_turn_probability(llm: Any, messages: list[dict[str, Any]]) -> float | None:
    """Blocking; the caller holds the model's lock. Reuses the cached prefix."""
    tokens = eou_prompt_tokens(llm, messages)
    if not tokens:
        return None
    ends = [
        llm.tokenize(t.encode("utf-8"), add_bos=False, special=True)
        for t in (END_OF_TURN, *SENTENCE_ENDS)
    ]
    ids = sorted({t[0] for t in ends if len(t) == 1})
    if len(ids) != len(ends) or len(tokens) >= llm.n_ctx():
        return None
    cached = llm.input_ids[: llm.n_tokens].tolist()
    keep = 0
    for a, b in zip(cached, tokens, strict=False):
        if a != b:
            break
        keep += 1
    keep = min(keep, len(tokens) - 1)  # at least one token is evaluated: its logits are read
    if not llm._ctx.kv_cache_seq_rm(-1, keep, -1):
        keep = 0
        llm.reset()
    llm.n_tokens = keep
    llm.eval(tokens[keep:])
    logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
    z = logits.astype(np.float64)
    z -= z.max()
    probs = np.exp(z)
    return float(probs[ids].sum() / probs.sum())
