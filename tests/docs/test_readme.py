"""The README's commands, run as written, print what the README says they print.

Every ```sh block of README.md runs, in order, in one bash session (so `KEY=$(...)` in one
block is there for the next), from a folder laid out like a clone after `make run`: the demo
workspace in ./workspace (with its prepared state), the project's virtualenv as ./.venv and
its tests/ (for the recordings the voice example sends).
A server for that workspace listens where the README's `localhost:8000` points. A ```output
block right after an sh block is what that block prints (stdout and stderr): `...` stands for
anything, and runs of whitespace match any whitespace (a narrow terminal wraps lines).
A block right after the comment `<!-- not run by tests/docs: WHY -->` is left out.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import demo_copy, require, serving

README = Path(__file__).resolve().parents[2] / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```[ \t]*\n", re.M | re.S)
SKIP = re.compile(r"<!-- not run by tests/docs: [^>]+-->\s*$")


@dataclass
class Example:
    line: int  # where the sh block starts in README.md
    commands: str
    expected: str | None  # the output block after it, if any


def examples(text: str) -> list[Example]:
    found: list[Example] = []
    fences = list(FENCE.finditer(text))
    for index, fence in enumerate(fences):
        if fence.group(1) != "sh" or SKIP.search(text[: fence.start()]):
            continue
        after = fences[index + 1] if index + 1 < len(fences) else None
        expected = None
        if (
            after is not None
            and after.group(1) == "output"
            and not text[fence.end() : after.start()].strip()
        ):
            expected = after.group(2)
        line = text.count("\n", 0, fence.start()) + 1
        found.append(Example(line, fence.group(2), expected))
    return found


def pattern(expected: str) -> re.Pattern[str]:
    """`...` matches anything (spaces around it included); other whitespace runs match any
    whitespace; everything else literally."""
    parts = []
    for token in re.split(r"(\s*\.\.\.\s*|\s+)", expected.strip()):
        if not token:
            continue
        if token.strip() == "...":
            parts.append(r"(?:\s|.)*?")
        elif token.isspace():
            parts.append(r"\s+")
        else:
            parts.append(re.escape(token))
    return re.compile("".join(parts), re.S)


def test_the_matcher() -> None:
    assert pattern("a ... b\n  c").fullmatch("a xx\nyy b c")
    assert pattern("a ... b").fullmatch("a b")
    assert not pattern("a b").fullmatch("a c")
    assert pattern('{\n  "x": "fd_..."\n}').fullmatch('{\n  "x": "fd_123"\n}')


def test_the_readme_runs_as_written(tmp_path: Path, prepared_state: Path) -> None:
    require(
        bool(shutil.which("curl") and shutil.which("jq")), "the README's examples need curl and jq"
    )
    text = README.read_text(encoding="utf-8")
    runnable = examples(text)
    assert len(runnable) >= 5, "the README lost its runnable examples"
    root = tmp_path / "clone"
    root.mkdir()
    workspace = demo_copy(root / "workspace", prepared_state)
    (root / ".venv").symlink_to(Path(sys.prefix))  # the project's virtualenv, as make made it
    assert (root / ".venv" / "bin" / "frontdesk").exists()
    (root / "tests").symlink_to(README.parent / "tests")  # examples send its recordings
    with serving(workspace) as url:
        port = url.rsplit(":", 1)[1]
        script = ["set -u"]
        for n, example in enumerate(runnable):
            commands = re.sub(r"\b(localhost|127\.0\.0\.1):8000\b", f"127.0.0.1:{port}",
                              example.commands)  # fmt: skip
            script += [f"echo '@@start {n}'", commands.rstrip(), f'echo "@@end {n} $?"']
        env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
        env.update(COLUMNS="200", NO_COLOR="1", TERM="dumb")
        run = subprocess.run(["bash", "-c", "\n".join(script)], cwd=root, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=300)  # fmt: skip
    output = run.stdout
    problems = []
    for n, example in enumerate(runnable):
        found = re.search(rf"^@@start {n}\n(.*?)^@@end {n} (\d+)$", output, re.M | re.S)
        where = f"README.md:{example.line}"
        if found is None:
            problems.append(f"{where}: did not finish\n{output[-2000:]}")
            break
        printed, status = found.group(1), int(found.group(2))
        if status != 0:
            problems.append(f"{where}: exit {status}\n{printed}")
        elif example.expected is not None and not pattern(example.expected).fullmatch(
            printed.strip()
        ):
            problems.append(
                f"{where}: printed\n{printed}\nbut the README shows\n{example.expected}"
            )
    assert not problems, "\n\n".join(problems)
