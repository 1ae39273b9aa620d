"""The operations assistant's LLM paths (issue 20 points 3 and 5), through the real OpenAI
SDK against the fake provider on loopback: the chat's model drives read-only tools and must
cite what they returned (else, or on a model failure or a spent budget, the deterministic
answer); a change request the grammar cannot read is read by the model's structured output
and checked like the grammar's; without `llm.models.ops` nothing changes."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import as_file, files
from pathlib import Path

import pytest

from frontdesk.config.settings import LlmSettings
from frontdesk.errors import FrontdeskError
from frontdesk.llm.router import ModelRouter
from frontdesk.llm.service import LlmService
from frontdesk.ops.folder import FolderTarget
from frontdesk.ops.plans import ChangePlans
from frontdesk.ops.troubleshoot import Troubleshooter
from frontdesk.orchestration.ops_chat import (
    READ_TOOLS,
    has_ops_model,
    llm_chat,
    llm_interpreter,
    read_ops_atoms,
)
from frontdesk.storage.db import Database
from tests.llm.conftest import Models, fake, models, provider_server  # noqa: F401
from tests.llm.fakes import FakeProvider, Step

SUNDAY = datetime(2026, 12, 6, 8, 30, tzinfo=UTC)
QUESTION = "what failed last night?"


def _service(models: Models, **settings: object) -> LlmService:  # noqa: F811
    llm = LlmSettings.model_validate(
        {"models": {"ops": ["openai:gpt-test"]}, "retries": 0, **settings}
    )
    return LlmService(llm, ModelRouter(llm, {"openai:gpt-test": models("openai")}))


@pytest.fixture
def chat() -> Troubleshooter:
    with as_file(files("frontdesk") / "demo" / "workspace" / "ops" / "target") as folder:
        target = FolderTarget(Path(folder))
    return Troubleshooter(target, read_ops_atoms(Path(target.root).parent / "knowledge"))


def _offered(fake: FakeProvider) -> set[str]:  # noqa: F811
    return {t["function"]["name"] for t in fake.requests[0]["body"]["tools"]}


async def test_the_model_reads_with_tools_and_cites_them(
    models: Models,  # noqa: F811
    fake: FakeProvider,  # noqa: F811
    chat: Troubleshooter,
) -> None:
    fake.then(
        Step(tool=("diagnose", {"question": QUESTION})),
        Step(tool=("apply_plan", {"plan_id": "p1"})),  # no such tool: nothing is written
        Step(
            tool=(
                "events",
                {
                    "start": "2026-12-05T21:00:00Z",
                    "end": "2026-12-05T23:00:00Z",
                    "elements": ["S07"],
                    "min_severity": "warning",
                },
            )
        ),
        Step(
            text="Sorter S07 has rejected parcels since the firmware deploy "
            "[2026-12-05T22:00:00Z] S07 DEPLOY; first error "
            "[2026-12-05T22:04:00Z] S07 SORT-E17. Roll the firmware back."
        ),
    )
    view = await llm_chat(_service(models), chat, QUESTION, SUNDAY, tenant_id="t1")
    assert view["engine"] == "llm", view["fallback"]
    assert view["model"] == "openai:gpt-test"
    assert view["tools"] == ["diagnose", "apply_plan", "events"]
    assert view["cited"] == ["[2026-12-05T22:00:00Z] S07 DEPLOY",
                             "[2026-12-05T22:04:00Z] S07 SORT-E17"]  # fmt: skip
    assert view["answer"].startswith("Sorter S07 has rejected")
    assert view["incidents"][0]["root"] == "S07"  # the deterministic diagnosis stays beside it
    # Only read-only tools are on offer; the write it asked for was refused by name.
    assert _offered(fake) == {cls.name for cls in READ_TOOLS}
    assert _offered(fake) == {"diagnose", "events", "metrics", "list_elements",
                              "read_element", "search_atoms"}  # fmt: skip
    sent = fake.requests[2]["body"]["messages"]
    assert "there is no tool named 'apply_plan'" in sent[-1]["content"]
    assert "S07 SORT-E17 (error)" in fake.requests[3]["body"]["messages"][-1]["content"]


async def test_no_citation_keeps_the_deterministic_evidence(
    models: Models,  # noqa: F811
    fake: FakeProvider,  # noqa: F811
    chat: Troubleshooter,
) -> None:
    fake.then(Step(text="A sorter broke after a deploy; roll it back."))
    view = await llm_chat(_service(models), chat, QUESTION, SUNDAY)
    assert view["engine"] == "llm"
    assert view["cited"] == []
    assert "Evidence (from the deterministic diagnosis):" in view["answer"]
    assert "- [2026-12-05T22:04:00Z] S07 SORT-E17" in view["answer"]


async def test_a_citation_no_tool_returned_falls_back(
    models: Models,  # noqa: F811
    fake: FakeProvider,  # noqa: F811
    chat: Troubleshooter,
) -> None:
    fake.then(
        Step(
            tool=(
                "metrics",
                {
                    "start": "2026-12-05T22:00:00Z",
                    "end": "2026-12-05T23:00:00Z",
                    "elements": ["S07"],
                },
            )
        ),
        Step(
            text="Depot D12 jammed: [2026-12-05T23:10:00Z] D12 SORT-JAM, "
            "metric S07 rejects = 999999"
        ),
    )
    view = await llm_chat(_service(models), chat, QUESTION, SUNDAY)
    assert view["engine"] == "deterministic"
    assert "cited what no tool returned" in view["fallback"]
    assert "D12 SORT-JAM" in view["fallback"]
    assert "999999" in view["fallback"]
    assert view["answer"] == (await chat.ask(QUESTION, SUNDAY)).answer


async def test_budget_exhaustion_and_model_errors_fall_back(
    models: Models,  # noqa: F811
    fake: FakeProvider,  # noqa: F811
    chat: Troubleshooter,
) -> None:
    deterministic = (await chat.ask(QUESTION, SUNDAY)).answer
    fake.default = Step(tool=("list_elements", {}))  # asks for tools for ever
    view = await llm_chat(_service(models, tool_max_calls=2, tool_max_steps=5), chat,
                          QUESTION, SUNDAY)  # fmt: skip
    assert view["engine"] == "deterministic"
    assert view["fallback"] == "the model's budget ran out (tool budget of 2 calls reached)"
    assert view["answer"] == deterministic
    assert view["tools"] == ["list_elements"] * 3  # the third was not run

    fake.reset()
    fake.default = Step(text="unused")
    tokens = await llm_chat(_service(models, budgets={"turn_tokens": 10}), chat, QUESTION, SUNDAY)
    assert tokens["engine"] == "deterministic"
    assert "turn token budget" in tokens["fallback"]
    assert fake.requests == []  # refused before any call

    fake.default = Step(status=500)
    broken = await llm_chat(_service(models), chat, QUESTION, SUNDAY)
    assert broken["engine"] == "deterministic"
    assert broken["fallback"].startswith("the model failed: no model could serve 'ops'")
    assert broken["answer"] == deterministic


# -- change plans -----------------------------------------------------------------------------

REFUSED_BY_GRAMMAR = "Galway depots need to shut at 9pm"


@pytest.fixture
def plans(db: Database, target_dir: Path) -> ChangePlans:
    return ChangePlans(db, FolderTarget(target_dir))


async def test_a_plan_from_structured_output(
    models: Models,  # noqa: F811
    fake: FakeProvider,  # noqa: F811
    plans: ChangePlans,
    tenant_id: str,
) -> None:
    with pytest.raises(FrontdeskError):  # the grammar alone cannot read it
        await plans.make(tenant_id, REFUSED_BY_GRAMMAR, actor="t")
    fake.then(Step(text='{"kind": "depot", "field": "/schedule/close", "value": "21:00", '
                        '"where": {"/city": ["Galway"]}}'))  # fmt: skip
    interpret = llm_interpreter(_service(models), tenant_id=tenant_id)
    plan = await plans.make(tenant_id, REFUSED_BY_GRAMMAR, actor="t", interpret=interpret)
    assert plan.status == "planned", plan.refusal
    assert sorted(plan.patches) == ["D23", "D24"]
    assert all(p == [{"op": "replace", "path": "/schedule/close", "value": "21:00"}]
               for p in plan.patches.values())  # fmt: skip
    assert plan.selector["read_by"] == "the model"
    assert plan.approved_by is None  # a person still approves it
    prompt = " ".join(str(m["content"]) for m in fake.requests[0]["body"]["messages"])
    assert "/schedule/close" in prompt
    assert "Galway" in prompt


@pytest.mark.parametrize(
    ("replies", "said"),
    [
        (["not json", '{"kind": "depot"}'], "the model could not read it either"),
        (['{"kind": "depot", "field": "/speed", "value": 3, "all": true}'],
         "does not fit the target: no field '/speed' of a depot"),
        (['{"kind": "depot", "field": "/cutoff", "value": "18:00", "ids": ["D99"]}'],
         "ids: no depot D99"),
        (['{"kind": "depot", "field": "/cutoff", "value": "18:00"}'], "which depots?"),
    ],
)  # fmt: skip
async def test_invalid_structured_output_is_the_same_422(
    models: Models,  # noqa: F811
    fake: FakeProvider,  # noqa: F811
    plans: ChangePlans,
    tenant_id: str,
    replies: list[str],
    said: str,
) -> None:
    fake.then(*(Step(text=r) for r in replies))
    interpret = llm_interpreter(_service(models), tenant_id=tenant_id)
    with pytest.raises(FrontdeskError) as refused:
        await plans.make(tenant_id, REFUSED_BY_GRAMMAR, actor="t", interpret=interpret)
    assert refused.value.code == "request_not_understood"
    assert refused.value.status_code == 422
    assert said in refused.value.message
    assert await plans.list(tenant_id) == []


async def test_the_grammar_first_and_no_model_no_change(
    models: Models,  # noqa: F811
    fake: FakeProvider,  # noqa: F811
    plans: ChangePlans,
    tenant_id: str,
) -> None:
    interpret = llm_interpreter(_service(models), tenant_id=tenant_id)
    plan = await plans.make(tenant_id, "disable depot D14", actor="t", interpret=interpret)
    assert plan.status == "planned"
    assert "read_by" not in plan.selector
    assert fake.requests == []  # the model is not asked what the grammar reads
    assert not has_ops_model(None)
    answer_only = LlmSettings.model_validate({"models": {"answer": ["openai:gpt-test"]}})
    assert not has_ops_model(LlmService(answer_only, ModelRouter(answer_only, {})))
