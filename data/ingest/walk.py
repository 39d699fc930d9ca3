"""Which files an ingest reads: the folder walk (no symlinks out of the folder, hidden folders only when asked)
and the hints that name a known tool's file that no reader accepted."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

#: Folder names that are never walked: reference copies of published tables (not runs) and tool caches.
SKIP_DIRS = {"reference", "__pycache__", ".git"}
#: Folder names skipped without a ledger row (noise: version control and bytecode caches).
_SILENT_DIRS = {"__pycache__", ".git"}


@dataclass
class WalkResult:
    """Files to consider (absolute, sorted per folder) and (path, reason) for what the walk did not enter."""

    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def _inside(target: Path, root: Path) -> bool:
    try:
        target.relative_to(root)
    except ValueError:
        return False
    return True


def walk_paths(paths, *, include_hidden: bool = False) -> WalkResult:
    """Expand files and folders into the files an ingest considers.

    A file named explicitly is always considered. Inside a folder: hidden files and folders (name starting
    with ``.``) are skipped unless ``include_hidden``; symbolic links are never followed out of the given
    folder (a link to a file inside it is read once, at its real location; a link to a folder is not entered);
    ``reference/`` folders (published tables, not runs) are skipped. Every skip except ``.git`` and
    ``__pycache__`` is returned with its reason so the ledger can name it.

    Raises
    ------
    FileNotFoundError
        If a given path does not exist.
    """
    out = WalkResult()
    seen: set[Path] = set()

    def add(f: Path) -> None:
        if f not in seen:
            seen.add(f)
            out.files.append(f)

    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file or folder")
        if p.is_file():
            add(p.resolve())
            continue
        root = p.resolve()
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            here = Path(dirpath)
            keep = []
            for d in sorted(dirnames):
                full = here / d
                if d in _SILENT_DIRS:
                    continue
                if full.is_symlink():
                    target = full.resolve()
                    if not _inside(target, root):
                        out.skipped.append(
                            (full, f"symlink to a folder outside {root} ({target}); not followed")
                        )
                    continue  # a link inside the folder: its real location is walked
                if d in SKIP_DIRS:
                    out.skipped.append(
                        (full, "reference copies of published tables are not runs; folder not walked")
                    )
                    continue
                if d.startswith(".") and not include_hidden:
                    out.skipped.append((full, "hidden folder not walked (pass --include-hidden to read it)"))
                    continue
                keep.append(d)
            dirnames[:] = keep
            for name in sorted(filenames):
                full = here / name
                if name.startswith(".") and not include_hidden:
                    out.skipped.append((full, "hidden file (pass --include-hidden to read it)"))
                    continue
                if full.is_symlink():
                    target = full.resolve()
                    if not target.exists():
                        out.skipped.append((full, f"broken symlink to {target}"))
                        continue
                    if not _inside(target, root):
                        out.skipped.append(
                            (full, f"symlink to a file outside {root} ({target}); not followed")
                        )
                        continue
                    add(target)
                    continue
                add(full)
    return out


_LM_EVAL_RE = re.compile(r"^(results|samples)_.*\.jsonl?$")


def known_tool_hint(path: Path) -> str | None:
    """A hint naming the tool that wrote ``path`` when its name or place says so (None = no idea).

    Recognises TensorBoard event files, MLflow file stores, Weights & Biases run files, Hugging Face Trainer
    state and results files, lm-evaluation-harness results and samples, Aim repositories and model checkpoints.
    """
    name = path.name.lower()
    parts = {q.lower() for q in path.parts[:-1]}
    if "tfevents" in name:
        return "looks like a TensorBoard event file (tfevents); no registered reader accepted it"
    if "mlruns" in parts or name == "meta.yaml":
        return "looks like part of an MLflow file store (mlruns/<experiment>/<run>/); no registered reader accepted it"
    if name.endswith(".wandb") or name.startswith("wandb-") or "wandb" in parts:
        return "looks like a Weights & Biases run file; no registered reader accepted it"
    if name in ("trainer_state.json", "all_results.json", "train_results.json", "eval_results.json"):
        return "looks like a Hugging Face Trainer file; no registered reader accepted it"
    if _LM_EVAL_RE.match(name):
        return "looks like an lm-evaluation-harness results or samples file; no registered reader accepted it"
    if ".aim" in parts:
        return "looks like part of an Aim repository; no registered reader accepted it"
    if name.endswith((".safetensors", ".pt", ".pth", ".ckpt", ".bin", ".gguf")):
        return "looks like a model checkpoint, not a log"
    return None
