"""Hugging Face Trainer output folders: ``trainer_state.json`` (+ ``checkpoint-*/``) and ``all_results.json``.

``TrainerState.save_to_json`` writes ``log_history``: training entries (``loss``, ``grad_norm``,
``learning_rate``, ``epoch``, ``step``, optionally ``num_input_tokens_seen``), evaluation entries (``eval_*``)
at the same steps, and one end-of-run summary (``train_runtime``, ``train_loss``, ``total_flos``, ...). Python's
json writes bare ``NaN``/``Infinity`` tokens, which are read. N, D, C: D = ``num_input_tokens_seen``; C =
``total_flos`` (HF's estimate 6 x tokens x non-embedding parameters, stored with ``compute_source = 6ND``);
``n_params_nonembed`` = C / (6 D) when both are logged. Anything else comes from the side-car.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from data.ingest.adapters.common import Context, Points, finish_run, load_json, num, positive, run_name
from data.ingest.records import ParsedFile, UnparseableFileError

FORMAT = "hf_trainer"
STATE = "trainer_state.json"
RESULTS = ("all_results.json", "train_results.json", "eval_results.json")
#: Keys of a log entry that are axes or bookkeeping, not metrics.
_AXES = {"step", "num_input_tokens_seen"}
#: Keys marking the end-of-run summary entry.
_SUMMARY_KEYS = {"train_runtime", "total_flos", "train_samples_per_second"}


def is_state(path: Path) -> bool:
    """True if ``path`` is a ``trainer_state.json`` holding a non-empty ``log_history`` list (an empty one, at the
    start of a job, has nothing to load yet and is left to the ingest's skip list)."""
    if path.name != STATE:
        return False
    try:
        d = load_json(path)
    except UnparseableFileError:
        return False
    return isinstance(d, dict) and isinstance(d.get("log_history"), list) and bool(d["log_history"])


def output_dir(path: Path) -> Path:
    """The Trainer output folder of a state/results file (the parent of a ``checkpoint-N`` folder)."""
    parent = path.parent
    return parent.parent if parent.name.startswith("checkpoint-") else parent


def parse_hf_output(unit: Path, members: list[Path], ctx: Context) -> ParsedFile:
    """Parse one Trainer output folder into one pretraining run.

    Parameters
    ----------
    unit : Path
        The output folder (``args.output_dir``).
    members : list of Path
        Its ``trainer_state.json`` files (top level and ``checkpoint-*/``) and ``*_results.json`` files. The
        top-level state is used; without one, the checkpoint with the largest ``global_step`` (the others are
        prefixes of it).

    Returns
    -------
    ParsedFile
        ``format="hf_trainer"``; one run (``kind`` pretrain unless the side-car says otherwise, ``run_id`` =
        folder path below the ingest root's parent); one point per (logged step, metric) with ``tokens_seen``
        from ``num_input_tokens_seen``; the end-of-run summary entry and ``*_results.json`` values are summary
        points (step NULL).

    Raises
    ------
    UnparseableFileError
        If no member is valid JSON of the expected shape.
    """
    parsed = ParsedFile(path=str(unit), format=FORMAT)
    states = [m for m in members if m.name == STATE]
    top = [m for m in states if m.parent == unit]
    state: dict[str, Any] | None = None
    if top:
        state = load_json(top[0])  # type: ignore[assignment]
    elif states:
        loaded = [(load_json(m), m) for m in states]
        state = max(loaded, key=lambda t: (t[0].get("global_step") or 0) if isinstance(t[0], dict) else -1)[0]
        parsed.notes.append("no top-level trainer_state.json: the latest checkpoint's state was read")
    if state is not None and not isinstance(state, dict):
        raise UnparseableFileError(str(unit), "trainer_state.json is not a JSON object")
    rid = run_name(unit, ctx.root)
    pts = Points(segments=True)
    config: dict[str, Any] = {}
    tokens = flos = None
    if state is not None:
        for k in ("max_steps", "num_train_epochs", "train_batch_size", "logging_steps", "eval_steps", "save_steps",
                  "best_metric", "best_model_checkpoint", "trial_name", "global_step"):  # fmt: skip
            if state.get(k) is not None:
                config[k] = state[k]
        if state.get("trial_params"):
            config["trial_params"] = state["trial_params"]
        tokens = positive(state.get("num_input_tokens_seen"))
        flos = positive(state.get("total_flos"))
        for i, entry in enumerate(state.get("log_history") or []):
            if not isinstance(entry, dict):
                continue
            is_summary = bool(_SUMMARY_KEYS & set(entry))
            step = entry.get("step")
            step = int(step) if isinstance(step, int | float) and not is_summary else None
            tok = num(entry.get("num_input_tokens_seen"))
            for k, v in entry.items():
                if k in _AXES:
                    continue
                pts.add(rid, step, k, v, tokens_seen=tok if step is not None else None, line=i + 1)
    for m in members:
        if m.name in RESULTS:
            d = load_json(m)
            if not isinstance(d, dict):
                continue
            for k, v in d.items():
                pts.add(rid, None, k, v)
            flos = flos or positive(d.get("total_flos"))
    if state is None and not pts.metrics():
        raise UnparseableFileError(
            str(unit), "no trainer_state.json log_history and no *_results.json values"
        )
    meta: dict[str, Any] = {"run_id": rid, "kind": "pretrain", "config": config}
    if tokens:
        meta["n_tokens"] = tokens
    if flos:
        meta["compute_flops"] = flos
        meta["compute_source"] = "6ND"
    if flos and tokens:
        meta["n_params_nonembed"] = flos / (6 * tokens)
        parsed.notes.append(
            "n_params_nonembed = total_flos / (6 x num_input_tokens_seen) (HF's FLOP estimate)"
        )
    metrics = pts.metrics()
    meta["loss_metric"] = next((k for k in ("eval_loss", "loss") if k in metrics), None)
    finish_run(parsed, meta, ctx, unit)
    pts.flush(parsed)
    return parsed
