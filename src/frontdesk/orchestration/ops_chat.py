"""The troubleshooting chat assembled: the workspace's target (as the change plans hold it)
and its ops knowledge atoms (ops/knowledge/*.md, read with the knowledge base's own atom
parser; the ops capability cannot import knowledge, so the atoms are handed over here)."""

from __future__ import annotations

from pathlib import Path

from frontdesk.interfaces import TargetSystem
from frontdesk.knowledge.atoms import parse_atom
from frontdesk.ops.troubleshoot import OpsAtom, Troubleshooter

OPS_KNOWLEDGE = "ops/knowledge"


def read_ops_atoms(folder: Path) -> list[OpsAtom]:
    """Every atom of the folder (sorted by file name); none when it does not exist."""
    atoms: list[OpsAtom] = []
    for path in sorted(folder.glob("*.md")) if folder.is_dir() else []:
        atom = parse_atom(path)
        atoms.append(OpsAtom(atom.meta.title, atom.meta.type, tuple(atom.meta.tags),
                             tuple(atom.meta.related), atom.body))  # fmt: skip
    return atoms


def build_troubleshooter(target: TargetSystem, workspace_root: Path) -> Troubleshooter:
    return Troubleshooter(target, read_ops_atoms(workspace_root / OPS_KNOWLEDGE))
