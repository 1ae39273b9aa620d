"""Materialise the two public documentation sets of bench/byod.py into bench/.cache/byod/.

Each set is named by its question file, bench/data/byod/<set>.yml, whose `source` gives the
GitHub repository, the commit and the folder inside it:

- rclone: docs/content of rclone/rclone at 64ab1ac32260238eefca3c61327f5faf1c6e106f (MIT):
  193 Markdown pages with Hugo front matter, as the project publishes them;
- httpx: the whole gh-pages branch of encode/httpx at 161324d9d5a5111b0a08509bc1c45908f62e15b1
  (BSD-3-Clause): the MkDocs Material site as served (25 HTML pages with their assets, search
  index and sitemap), unchanged.

The files are read from a git snapshot of the repository: `--mirror DIR` holds snapshots as
`DIR/<owner>+<name>/repo` (this project's machines have them in /work/.mirror); without one the
script clones the repository from GitHub into the cache (blobs fetched on demand; needs git and
the network once) and reads the same commit. Either way the files are written byte for byte
as that commit has them, and `<set>/.source` records where they came from. The documents are
third-party text: they stay in the ignored cache, never in the repository.

    .venv/bin/python bench/byod_fetch.py            # both sets
    .venv/bin/python bench/byod_fetch.py rclone     # one
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent
QUESTIONS = ROOT / "data" / "byod"
CACHE = ROOT / ".cache" / "byod"
MIRROR = Path("/work/.mirror")


def sets() -> dict[str, dict[str, Any]]:
    """Every documentation set with a question file: name -> its `source`."""
    found = {}
    for path in sorted(QUESTIONS.glob("*.yml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        found[spec["set"]] = spec["source"]
    return found


def _git(git_dir: Path, *args: str, data: bytes | None = None) -> bytes:
    done = subprocess.run(
        ["git", "--git-dir", str(git_dir), *args], input=data, capture_output=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"git {' '.join(args)} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout


def _git_dir(source: dict[str, Any], mirror: Path) -> tuple[Path, str]:
    """A git directory that has the commit: the mirror's snapshot, else a blobless clone."""
    owner_name = source["repo"].removeprefix("https://github.com/").strip("/")
    snapshot = mirror / owner_name.replace("/", "+") / "repo"
    if snapshot.is_dir():
        return snapshot, f"snapshot {snapshot}"
    clone = CACHE / ".clones" / owner_name.replace("/", "+")
    if not clone.is_dir():
        clone.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "clone", "--bare", "--filter=blob:none", source["repo"], str(clone)],
            check=True,
        )
    missing = subprocess.run(
        ["git", "--git-dir", str(clone), "cat-file", "-e", source["commit"]], check=False
    )
    if missing.returncode:
        subprocess.run(
            ["git", "--git-dir", str(clone), "fetch", "origin", source["commit"]], check=True
        )
    return clone, f"clone of {source['repo']}"


def materialise(name: str, source: dict[str, Any], mirror: Path, *, force: bool = False) -> Path:
    target = CACHE / name
    stamp = target / ".source"
    if (
        not force
        and stamp.is_file()
        and json.loads(stamp.read_text(encoding="utf-8")).get("commit") == source["commit"]
    ):
        return target
    git_dir, origin = _git_dir(source, mirror)
    prefix = "" if source.get("path", ".") in ("", ".") else source["path"].strip("/") + "/"
    listing = _git(git_dir, "ls-tree", "-r", "-z", source["commit"], "--", prefix or ".")
    entries = []
    for row in listing.split(b"\0"):
        if not row:
            continue
        meta, path = row.split(b"\t", 1)
        mode, kind, sha = meta.decode().split()
        if kind == "blob" and mode != "120000":  # files only; symbolic links are not copied
            entries.append((path.decode(), sha))
    if not entries:
        raise SystemExit(f"{name}: nothing under {prefix or '/'} at {source['commit']}")
    # One `git cat-file --batch` for every blob: "<sha> blob <size>\n<bytes>\n" each.
    wanted = "".join(f"{sha}\n" for _, sha in entries).encode()
    batch = _git(git_dir, "cat-file", "--batch", data=wanted)
    if target.exists():
        shutil.rmtree(target)
    offset = 0
    for path, sha in entries:
        end = batch.index(b"\n", offset)
        header = batch[offset:end].decode().split()
        if header[1] == "missing":
            raise SystemExit(f"{name}: {path} ({sha}) is missing from {origin}")
        size = int(header[2])
        content = batch[end + 1 : end + 1 + size]
        offset = end + 1 + size + 1
        out = target / path.removeprefix(prefix)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(content)
    stamp.write_text(
        json.dumps({**source, "files": len(entries), "from": origin}, indent=2) + "\n",
        encoding="utf-8",
    )
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="*", help="set names (default: every question file's set)")
    parser.add_argument("--mirror", type=Path, default=MIRROR, help="folder of git snapshots")
    parser.add_argument("--force", action="store_true", help="write the files again")
    args = parser.parse_args()
    known = sets()
    for name in args.sets or list(known):
        if name not in known:
            parser.error(f"unknown set {name!r}; known: {', '.join(known)}")
        folder = materialise(name, known[name], args.mirror, force=args.force)
        count = sum(1 for p in folder.rglob("*") if p.is_file() and p.name != ".source")
        print(f"{name}: {count} files in {folder}", file=sys.stderr)


if __name__ == "__main__":
    main()
