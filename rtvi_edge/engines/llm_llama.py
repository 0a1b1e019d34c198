"""llama.cpp language model through llama-cpp-python, in-process.

One `Llama` serves every conversation, one generation at a time. llama.cpp
keeps the KV cache of the last prompt and reuses its longest common prefix, so
a conversation's next turn only evaluates the new messages.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rtvi_edge.engines.base import GenerationParams, GenerationStats
from rtvi_edge.errors import EngineError, ModelNotFoundError

log = logging.getLogger(__name__)

N_UBATCH = 128


def offloaded_layers(setting: int, gpu_backend: bool) -> int:
    """n_gpu_layers for llama.cpp: `-1` (the default) means every layer when llama.cpp was
    built with a GPU backend (CUDA on a Jetson) and none otherwise."""
    if setting < 0:
        return -1 if gpu_backend else 0
    return setting if gpu_backend else 0


def gpu_backend() -> bool:
    """Whether this llama-cpp-python can offload layers (built with CUDA, Metal, Vulkan)."""
    try:
        import llama_cpp

        return bool(llama_cpp.llama_supports_gpu_offload())
    except (ImportError, AttributeError, OSError):  # pragma: no cover - an old or broken build
        return False


class LlamaLlm:
    name = "llama"

    def __init__(
        self, model_path: Path, context_tokens: int, threads: int, gpu_layers: int = -1
    ) -> None:
        if not model_path.is_file():
            raise ModelNotFoundError(
                f"GGUF model not found at {model_path} (set [llm] model to a .gguf file, "
                "or download one with `rtvi-edge models pull NAME`)"
            )
        try:
            from llama_cpp import Llama
        except ImportError as exc:  # pragma: no cover
            raise EngineError("llama-cpp-python is not installed") from exc
        self.gpu_layers = offloaded_layers(gpu_layers, gpu_backend())
        if self.gpu_layers:
            where = "all" if self.gpu_layers < 0 else str(self.gpu_layers)
            log.info("llama.cpp: %s layers on the GPU", where)
        try:
            self._llm = Llama(
                str(model_path),
                n_ctx=context_tokens,
                n_threads=threads,
                n_gpu_layers=self.gpu_layers,
                # Prompts are evaluated 128 tokens at a time: llama.cpp's compute buffer is
                # sized for one micro-batch (99 -> 25 MiB for SmolLM2), the answers are
                # the same token for token (bench/equivalence.py), prefill no slower here.
                n_ubatch=N_UBATCH,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise EngineError(f"llama.cpp could not load {model_path}: {exc}") from exc
        self.model_name = model_path.stem
        self.context_tokens = context_tokens
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def end_of_turn_probability(self, messages: list[dict[str, Any]]) -> float | None:
        """P(<|im_end|>) after the user's words (`llm_eou.py`); shares the answer's cache."""
        from rtvi_edge.engines.llm_eou import end_of_turn_probability

        with self._lock:
            return end_of_turn_probability(self._llm, messages)

    def choose(self, messages: list[dict[str, Any]], options: list[str]) -> str:
        from llama_cpp import LlamaGrammar  # type: ignore[attr-defined]

        grammar = LlamaGrammar.from_string(
            "root ::= " + " | ".join(json.dumps(o) for o in options), verbose=False
        )
        text = self._constrained(messages, grammar, max_tokens=24).strip()
        return text if text in options else options[-1]

    def json_arguments(self, messages: list[dict[str, Any]], schema: dict[str, Any]) -> Any:
        from llama_cpp import LlamaGrammar  # type: ignore[attr-defined]

        grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
        text = self._constrained(messages, grammar, max_tokens=160)
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:  # cut off by max_tokens
            raise EngineError(f"the model's arguments were not complete JSON: {exc}") from exc

    def _constrained(self, messages: list[dict[str, Any]], grammar: Any, max_tokens: int) -> str:
        """One greedy answer that `grammar` allows (a choice, tool arguments)."""
        with self._lock:
            reply = self._llm.create_chat_completion(
                messages=messages,  # type: ignore[arg-type]
                grammar=grammar,
                max_tokens=max_tokens,
                temperature=0.0,
            )
        return str(reply["choices"][0]["message"]["content"] or "")  # type: ignore[index]

    def stream_chat(
        self,
        messages: list[dict[str, Any]],
        params: GenerationParams,
        cancel: threading.Event,
        stats: GenerationStats,
    ) -> Iterator[str]:
        with self._lock:
            stream = self._llm.create_chat_completion(
                messages=messages,  # type: ignore[arg-type]
                stream=True,
                max_tokens=params.max_tokens,
                temperature=params.temperature,
                top_p=params.top_p,
            )
            try:
                for chunk in stream:
                    if cancel.is_set():
                        break
                    stats.completion_tokens += 1
                    delta: Any = chunk["choices"][0]["delta"]  # type: ignore[index]
                    piece = delta.get("content") if isinstance(delta, dict) else None
                    if piece:
                        yield str(piece)
            finally:
                # Closing the generator stops llama.cpp decoding at once.
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
            stats.prompt_tokens = self._llm.n_tokens - stats.completion_tokens
