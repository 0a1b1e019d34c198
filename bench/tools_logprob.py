"""An alternative the tool eval measures: the model scores each choice by log-probability.

Instead of letting the 135M model generate a tool name under a grammar, the
prompt is evaluated once and each option ("none" and every candidate tool's
name) is scored as the sum of its tokens' log-probabilities after it; the best
one wins. Kept in bench/ because it lost to the word scorer (docs/tools.md).
Reaches into llama-cpp-python's Llama object (SmolLM2's ChatML template).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rtvi_edge.tools.matching import ToolMatcher
from rtvi_edge.tools.policy import NONE, choice_messages
from rtvi_edge.tools.registry import Tool


def _chatml(messages: list[dict[str, Any]]) -> str:
    body = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return body + "<|im_start|>assistant\n"


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max()
    return np.asarray(shifted - np.log(np.exp(shifted).sum()))


class LogprobChooser:
    def __init__(self, llm: Any) -> None:
        self._llama = llm._llm  # the llama_cpp.Llama inside LlamaLlm

    def _logits(self) -> np.ndarray:
        llama = self._llama
        return np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(llama.n_vocab(),)).copy()

    def scores(
        self, messages: list[dict[str, Any]], options: list[str]
    ) -> dict[str, tuple[float, int]]:
        """Each option's summed log-probability and its number of tokens."""
        llama = self._llama
        prompt = llama.tokenize(_chatml(messages).encode(), add_bos=False, special=True)
        llama.reset()
        llama.eval(prompt)
        base = self._logits()
        start = llama.n_tokens
        out = {}
        for option in options:
            toks = llama.tokenize((option + "<|im_end|>").encode(), add_bos=False, special=True)
            llama.n_tokens = start
            logits, total = base, 0.0
            for i, tok in enumerate(toks):
                total += float(_log_softmax(logits)[tok])
                if i < len(toks) - 1:
                    llama.eval([tok])
                    logits = self._logits()
            out[option] = (total, len(toks))
        llama.reset()
        return out

    def choose(self, text: str, tools: list[Tool]) -> tuple[Tool | None, Tool | None]:
        """The best option by summed log-probability, and by mean per token."""
        cands = [s.tool for s in ToolMatcher(tools).scores(text)]
        if not cands:
            return None, None
        scores = self.scores(choice_messages(text, cands), [t.name for t in cands] + [NONE])
        by_sum = max(scores, key=lambda k: scores[k][0])
        by_mean = max(scores, key=lambda k: scores[k][0] / scores[k][1])
        pick = {t.name: t for t in cands}
        return pick.get(by_sum), pick.get(by_mean)
