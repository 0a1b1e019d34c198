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

from typing import Any

import numpy as np

END_OF_TURN = "<|im_end|>"


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
    result = formatter(messages=messages)
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
    ids = llm.tokenize(END_OF_TURN.encode("utf-8"), add_bos=False, special=True)
    if len(ids) != 1 or len(tokens) >= llm.n_ctx():
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
    return float(probs[ids[0]] / probs.sum())
