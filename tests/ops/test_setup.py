"""Starter configuration from a description (issue 20 point 4): the slot grammar on phrasings
that are not in bench/data/ops/setup.yml, defaults from the config_template atoms, every file
checked against its kind's schema, what was assumed, and refusals with codes."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import yaml

from frontdesk.errors import FrontdeskError
from frontdesk.ops.folder import FolderTarget
from frontdesk.ops.setup import SetupGenerator, generator_for, looks_like_setup
from frontdesk.ops.troubleshoot import OpsAtom
from frontdesk.orchestration.ops_chat import read_ops_atoms

KNOWLEDGE = Path(__file__).resolve().parents[2] / "src/frontdesk/demo/workspace/ops/knowledge"


@pytest.fixture
async def generator(target_dir: Path) -> SetupGenerator:
    return await generator_for(FolderTarget(target_dir), read_ops_atoms(KNOWLEDGE))


def _of(starter: object, kind: str) -> list[dict[str, object]]:
    return [e.config for e in starter.elements.values() if e.kind == kind]  # type: ignore[attr-defined]


async def test_two_towns_a_time_a_capacity_and_a_carrier(generator: SetupGenerator) -> None:
    starter = generator.generate(
        "Set up two depots in Tralee and Mallow with a 16:45 cut-off and a capacity of 800 "
        "per hour, served by DPD"
    )
    depots = _of(starter, "depot")
    assert sorted(d["city"] for d in depots) == ["Mallow", "Tralee"]
    assert {d["region"] for d in depots} == {"Munster"}
    assert {d["cutoff"] for d in depots} == {"16:45"}
    assert {d["capacity_per_hour"] for d in depots} == {800}
    assert all(d["carriers"] == ["C-DPD"] for d in depots)
    # New ids follow the target's own (D01..D30), and the carrier they name is in the set.
    assert sorted(d["id"] for d in depots) == ["D31", "D32"]
    assert [c["id"] for c in _of(starter, "carrier")] == ["C-DPD"]
    assert starter.errors == {}
    assumed = {(a.element, a.field) for a in starter.assumed}
    assert ("D31", "schedule") in assumed
    assert ("D31", "cutoff") not in assumed
    why = next(a.why for a in starter.assumed if a.field == "schedule")
    assert "New depot configuration template" in why


async def test_a_town_the_target_does_not_have_and_opening_hours(
    generator: SetupGenerator,
) -> None:
    starter = generator.generate(
        "We need a depot in Letterkenny open from 08:30 until 18:00, Monday to Saturday"
    )
    [depot] = _of(starter, "depot")
    assert (depot["city"], depot["region"]) == ("Letterkenny", "Ulster")
    assert depot["schedule"] == {"open": "08:30", "close": "18:00",
                                 "days": ["mon", "tue", "wed", "thu", "fri", "sat"]}  # fmt: skip


async def test_a_sorter_with_its_depot(generator: SetupGenerator) -> None:
    starter = generator.generate(
        "one depot in Dungarvan with a CrossBelt CB-400 sorter: 24 lanes, firmware 4.2.1"
    )
    [depot], [sorter] = _of(starter, "depot"), _of(starter, "sorter")
    assert (sorter["model"], sorter["lanes"], sorter["firmware"]) == ("CrossBelt CB-400", 24,
                                                                       "4.2.1")  # fmt: skip
    assert sorter["depot"] == depot["id"]
    assert depot["sorter"] == sorter["id"] == "S11"
    assert depot["region"] == "Munster"
    assert {a.field for a in starter.assumed if a.element == "S11"} >= {"max_rate"}


async def test_routes_each_from_its_depot(generator: SetupGenerator) -> None:
    starter = generator.generate(
        "depots in Mallow and Clonmel, each with a route to the Cork hub leaving at 18:15 "
        "run by Fastway on Monday, Wednesday and Friday"
    )
    depots, routes = _of(starter, "depot"), _of(starter, "route")
    assert sorted(r["origin"] for r in routes) == sorted(d["id"] for d in depots)
    assert {(r["destination"], r["departure"], r["carrier"]) for r in routes} == {
        ("HUB-CORK", "18:15", "C-FASTWAY")
    }
    assert all(r["days"] == ["mon", "wed", "fri"] for r in routes)
    # The route's time is not the depots' cut-off; their carriers include the route's.
    assert all(d["cutoff"] != "18:15" and "C-FASTWAY" in d["carriers"] for d in depots)


async def test_carriers_alone_and_word_times(generator: SetupGenerator) -> None:
    carrier = generator.generate("carrier DPD: timeout 30 s, 5 retries")
    assert _of(carrier, "carrier") == [{**_of(carrier, "carrier")[0], "id": "C-DPD",
                                       "timeout_s": 30, "retries": 5}]  # fmt: skip
    assert _of(carrier, "depot") == []
    quarter = generator.generate("a depot in Greystones, cut-off quarter to six, no Saturdays")
    [depot] = _of(quarter, "depot")
    assert (depot["cutoff"], depot["saturday_cutoff"], depot["region"]) == ("17:45", None,
                                                                            "Leinster")  # fmt: skip
    assert "sat" not in depot["schedule"]["days"]


async def test_files_and_zip(generator: SetupGenerator) -> None:
    starter = generator.generate("a depot in Ennis with cut-off 16:00")
    assert sorted(starter.files) == ["elements/carriers/C-ANPOST.json",
                                     "elements/depots/D31.yaml"]  # fmt: skip
    text = starter.files["elements/depots/D31.yaml"]
    assert yaml.safe_load(text)["cutoff"] == "16:00"
    assert "cutoff: '16:00'" in text  # quoted: an unquoted time is a YAML pitfall
    with zipfile.ZipFile(io.BytesIO(starter.zip())) as archive:
        names = archive.namelist()
        assert "elements/depots/D31.yaml" in names
        assert "SETUP.md" in names
        notes = archive.read("SETUP.md").decode()
    assert "a depot in Ennis with cut-off 16:00" in notes
    assert "capacity_per_hour" in notes  # what was assumed, in the archive too


@pytest.mark.parametrize(
    ("description", "named"),
    [
        ("make everything faster", "depot"),
        ("two depots with cut-off 17:00", "town"),
        ("three depots in Cork and Sligo", "3"),
        ("a route to the Cork hub", "depot"),
        ("", "depot"),
        ("1000000 depots in Cork", "at most 50"),
        ("a depot in Cork, cut-off 25:99", "25:99 is not a time"),
        ("three carriers", "which?"),
        ("a depot in Atlantis", "region"),
    ],
)
async def test_descriptions_it_cannot_read(
    generator: SetupGenerator, description: str, named: str
) -> None:
    with pytest.raises(FrontdeskError) as refused:
        generator.generate(description)
    assert refused.value.code == "description_not_understood"
    assert refused.value.status_code == 422
    assert named in refused.value.message


async def test_a_bad_template_is_refused_before_anything_is_shown(target_dir: Path) -> None:
    atoms = read_ops_atoms(KNOWLEDGE)
    bad = [
        OpsAtom(a.title, a.type, a.tags, a.related,
                a.body.replace("capacity_per_hour: 600", "capacity_per_hour: 50"))
        if "depot" in a.tags and a.type == "config_template" else a
        for a in atoms
    ]  # fmt: skip
    generator = await generator_for(FolderTarget(target_dir), bad)
    with pytest.raises(FrontdeskError) as refused:
        generator.generate("a depot in Ennis")
    assert refused.value.code == "setup_invalid"
    assert "/capacity_per_hour" in refused.value.message


async def test_every_kind_has_a_template() -> None:
    atoms = read_ops_atoms(KNOWLEDGE)
    templates = {t for a in atoms if a.type == "config_template" for t in a.tags}
    assert {"depot", "sorter", "route", "carrier"} <= templates


@pytest.mark.parametrize(
    ("text", "setup"),
    [
        ("Please set up a depot in Clifden with cut-off 15:30", True),
        ("create three depots in Cork", True),
        ("we need a starter config for two depots in Sligo", True),
        ("what failed last night?", False),
        ("new failures at the Cork depot", False),
        ("build failed on S07 since Tuesday", False),
        ("set up a depot in Cork: why is it late", False),
    ],
)
def test_the_chat_tells_a_setup_request_from_a_question(text: str, setup: bool) -> None:
    assert looks_like_setup(text) is setup


async def test_a_said_value_out_of_range_is_refused(generator: SetupGenerator) -> None:
    with pytest.raises(FrontdeskError) as refused:
        generator.generate("a depot in Cork with a sorter of 500 lanes")
    assert refused.value.code == "setup_invalid"
    assert "/lanes" in refused.value.message
    ok = generator.generate("a depot in Atlantis, Munster")  # a town the tables lack
    assert [(e.config["city"], e.config["region"]) for e in ok.elements.values()
            if e.kind == "depot"] == [("Atlantis", "Munster")]  # fmt: skip
