"""Adapter for raw verl PPO/GRPO console logs (``*.log``) -> :class:`ParsedFile` (format ``"verl_log"``).

verl (Sheng et al., "HybridFlow: A Flexible and Efficient RLHF Framework", EuroSys 2025,
arXiv:2409.19256) prints its resolved run configuration as a pretty-printed Python dict and then one
``step:N - key:value - key:value ...`` line per PPO iteration, all behind Ray process prefixes such as
``(main_task pid=54569)`` and ANSI colour codes. This module turns one such log into one run dict
(keys of :data:`RUN_COLUMNS` plus a ``config`` dict that the loader stores as ``config_json``) and
long-form :class:`StepRow` records. Pure Python: no DuckDB here; the loader writes the result.
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path
from typing import Any

from data.ingest.records import (
    ParsedFile,
    Reject,
    SegmentTracker,
    StepRow,
    UnparseableFileError,
    to_float,
)

FORMAT = "verl_log"

#: Nominal total parameter counts (N) of known base models, used only when the log does not print
#: ``<Class>ForCausalLM contains <n>M/B parameters``. Keys are matched case-insensitively as
#: substrings of the model path. Values are the model cards' nominal sizes.
KNOWN_MODEL_PARAMS: dict[str, float] = {
    "qwen2.5-0.5b": 0.49e9,
    "gemma-2-2b": 2.61e9,
}

#: verl ``algorithm.adv_estimator`` value -> algorithm label stored in ``runs.algorithm``.
ADV_ESTIMATOR_LABELS: dict[str, str] = {
    "gae": "ppo-gae",
    "grpo": "grpo",
    "rloo": "rloo",
    "reinforce_plus_plus": "reinforce++",
    "remax": "remax",
}

#: Model family: first a substring of the model path, else the printed ``<Class>ForCausalLM`` class.
FAMILY_FROM_PATH: tuple[tuple[str, str], ...] = (
    ("qwen2.5", "qwen2.5"),
    ("qwen3", "qwen3"),
    ("gemma-2", "gemma-2"),
    ("gemma-3", "gemma-3"),
    ("llama-3", "llama-3"),
)
FAMILY_FROM_CLASS: dict[str, str] = {
    "gemma2": "gemma-2",
    "gemma3": "gemma-3",
    "qwen2": "qwen2",
    "qwen3": "qwen3",
}

#: Timing keys that are NOT counted as training compute (validation runs outside the PPO step).
EXCLUDED_TIMING_KEYS: frozenset[str] = frozenset({"timing/testing"})

_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Ray's per-process prefix: "(main_task pid=1)", "(WorkerDict pid=2)", "(pid=3)",
# "(VGNd5CWorkerDict_0:0 WorkerDict pid=65860)", optionally ", ip=1.2.3.4".
_RAY_PREFIX_RE = re.compile(r"\((?:[^()\s][^()]*?\s)?pid=\d+(?:,\s*ip=[^)]*)?\)\s?")
_STEP_RE = re.compile(r"^\s*step:(\S*)\s+-\s+(.*)$")
_STEP_START_RE = re.compile(r"^\s*step:")
_VERL_STEP_RE = re.compile(r"^\s*step:\d+\s+-\s+[^\s:]+:")
_VALID_DICT_RE = re.compile(r"(Initial|Final) validation metrics:\s*(\{.*\})")
_N_PARAMS_RE = re.compile(r"(\w+)ForCausalLM contains ([0-9.]+)\s*([KMBT])\s+parameters")
_SCALE = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


def _segments(line: str) -> list[tuple[str | None, str]]:
    """Split a cleaned line at Ray prefixes -> [(process name or None, text)]."""
    out: list[tuple[str | None, str]] = []
    pos = 0
    proc: str | None = None
    for m in _RAY_PREFIX_RE.finditer(line):
        if m.start() > pos:
            out.append((proc, line[pos : m.start()]))
        proc = m.group(0).strip()[1:-1].rsplit("pid=", 1)[0].strip() or "pid"
        pos = m.end()
    if pos < len(line) or not out:
        out.append((proc, line[pos:]))
    return out


_CONFIG_TOP_KEYS = frozenset({"actor_rollout_ref", "algorithm", "critic", "data", "trainer"})


def _extract_config(texts: list[str]) -> dict[str, Any] | None:
    """Literal-eval the first pretty-printed verl config dict (top keys ``actor_rollout_ref``, ...).

    Candidates are driver-text segments starting with ``{'``; the lines up to the matching closing
    brace are joined and evaluated. None when no candidate evaluates (e.g. lines lost in the log).
    """
    for i, t in enumerate(texts):
        if not t.lstrip().startswith("{'"):
            continue
        buf: list[str] = []
        depth = 0
        for t2 in texts[i : i + 2000]:
            buf.append(t2)
            depth += t2.count("{") - t2.count("}")
            if depth <= 0:
                break
        try:
            cfg = ast.literal_eval("\n".join(buf).strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
        if isinstance(cfg, dict) and _CONFIG_TOP_KEYS & set(cfg):
            return cfg
    return None


def _get(cfg: dict[str, Any] | None, *keys: str) -> Any:
    cur: Any = cfg
    for k in keys:
        if not isinstance(cur, dict) or k not in cur:
            return None
        cur = cur[k]
    return cur


def _regex_value(texts: list[str], key: str, nth: int = 0) -> Any:
    """Fallback when the config dict cannot be evaluated: the ``nth`` ``'key': value`` literal.

    verl prints the config with sorted keys, so e.g. the first ``'lr'`` is the actor's and the
    second the critic's, and the first ``'path'`` is ``actor_rollout_ref.model.path``.
    """
    pat = re.compile(r"'" + re.escape(key) + r"':\s*('[^']*'|[-+0-9.eE]+|True|False|None)")
    seen = 0
    for t in texts:
        for m in pat.finditer(t):
            if seen == nth:
                try:
                    return ast.literal_eval(m.group(1))
                except (ValueError, SyntaxError):
                    return None
            seen += 1
    return None


def _val_name(key: str) -> str:
    return key if key.startswith("val/") else f"val/{key}"


def parse_verl_log(path: Path, *, source: str | None = None, run_id: str | None = None) -> ParsedFile:
    """Parse one verl PPO/GRPO console log into one RL run and its per-step metrics.

    Compute axis: for every training step, the phase timings the trainer logs
    (``timing/gen``, ``timing/ref``, ``timing/values``, ``timing/adv``, ``timing/update_critic``,
    ``timing/update_actor``, i.e. every ``timing/*`` key except ``timing/testing``) are summed;
    ``wall_time_s`` is the cumulative sum in seconds and
    ``gpu_hours_seen = wall_time_s * n_gpus / 3600`` in GPU-hours, with
    ``n_gpus = trainer.n_gpus_per_node * trainer.nnodes``. Validation and start-up time are excluded
    (the log records no GPU model, so GPU-hours are device-agnostic).

    Parameters
    ----------
    path : pathlib.Path
        The ``*.log`` file (UTF-8; ANSI colour codes and Ray ``(name pid=N)`` prefixes are stripped).
    source : str, optional
        Study name stored in ``runs.source`` (default: the name of the folder holding the log; ``scaling
        ingest`` passes ``--source`` or a side-car's ``source`` instead when given).
    run_id : str, optional
        Run key; default: the file name without its extension.

    Returns
    -------
    ParsedFile
        ``format="verl_log"``; ``runs`` holds ONE dict with ``run_id``, ``kind="rl"``, ``source``,
        ``base_model`` (``actor_rollout_ref.model.path``), ``model_family``
        (:data:`FAMILY_FROM_PATH` on the model path, else the printed model class:
        ``"qwen2.5"``, ``"gemma-2"``), ``algorithm`` (``"ppo-gae"`` for ``adv_estimator: gae``,
        ``"grpo"``, ...), ``recipe``
        (``"bsz{train_batch_size}_p{max_prompt_length}_r{max_response_length}"``),
        ``n_gpus``, ``n_params`` (N, parameters) and ``config``, a dict the loader stores as
        ``config_json`` (``n_gpus_per_node``, ``nnodes``, ``train_batch_size``, ``max_prompt_length``,
        ``max_response_length``, ``kl_coef``, ``actor_lr``, ``critic_lr``, ``rollout_n``,
        ``experiment_name``, ``verl_commit``, ``command``, ``verl_config`` = the whole dict).
        ``n_params`` is read from the log line ``<Class>ForCausalLM contains 494.03M parameters``;
        if absent it is mapped from :data:`KNOWN_MODEL_PARAMS` (Qwen2.5-0.5B(-Instruct) 0.49e9,
        gemma-2-2b 2.61e9) and is otherwise left out. ``steps`` holds one :class:`StepRow` per
        numeric key of every ``step:N`` line, named as logged (``critic/score/mean``,
        ``timing/gen``, ``val/test_score/openai/gsm8k``).

    Notes
    -----
    Validation conventions (verl evaluates the policy outside the PPO step):

    * ``"Initial validation metrics: {...}"`` (before step 0) becomes rows at ``step = 0`` with
      ``gpu_hours_seen = 0`` and ``wall_time_s = 0``, named with the ``val/`` prefix that verl adds
      inside training steps (``test_score/openai/gsm8k`` -> ``val/test_score/openai/gsm8k``), so the
      validation curve is one series whose first point is R_0. The full-precision dict value is
      used; a validation-only ``step:0 - test_score/...:0.521`` echo of the same dict (newer verl)
      is then skipped.
    * ``"Final validation metrics: {...}"`` (after the last step) becomes rows at
      ``step = last + 1`` with the compute reached at the last step.
    * Validation logged inside a step line (``val/...``) keeps that step's cumulative compute.

    A ``step:`` line whose step is not an integer, or with a value that is not a number (or a
    ``key:value`` pair that cannot be split), is rejected whole into ``rejects`` (1-based line
    number, reason); its timings are then not counted. Non-finite values (``nan``, ``inf``) are
    kept (the loader stores them as flagged gaps in ``metric_flags``) and counted in ``notes``; a value
    no 64-bit float holds (``1e400``) rejects its line. A step counter that restarts starts a new segment.

    Raises
    ------
    UnparseableFileError
        If the file cannot be read, or holds neither a verl config dict nor any well-formed
        ``step:N - key:value`` line.
    """
    path = Path(path)
    try:
        raw = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise UnparseableFileError(str(path), f"cannot read file: {exc}") from exc
    rid = run_id if run_id is not None else path.name.rsplit(".", 1)[0]
    parsed = ParsedFile(path=str(path), format=FORMAT)

    lines = raw.replace("\x00", "").splitlines()
    main_texts: list[str] = []  # text segments of the driver process (Ray "main_task")
    bare_texts: list[str] = []  # text without any Ray prefix (single-process logs)
    step_lines: list[tuple[int, str]] = []
    val_dicts: list[tuple[int, str, dict[str, float]]] = []
    n_params_read: tuple[str, float] | None = None

    for lineno, line in enumerate(lines, start=1):
        clean = _ANSI_RE.sub("", line).replace("\r", "")
        for proc, text in _segments(clean):
            if n_params_read is None:
                m = _N_PARAMS_RE.search(text)
                if m:
                    n_params_read = (m.group(1), float(m.group(2)) * _SCALE[m.group(3)])
            if proc is not None and proc != "main_task":
                continue
            (main_texts if proc == "main_task" else bare_texts).append(text)
            if _STEP_START_RE.match(text):
                step_lines.append((lineno, text))
                continue
            m = _VALID_DICT_RE.search(text)
            if m:
                try:
                    d = ast.literal_eval(m.group(2))
                except (ValueError, SyntaxError):
                    parsed.rejects.append(
                        Reject(lineno, line, "validation metrics dict is not a valid literal")
                    )
                    continue
                vals = {
                    k: float(v)
                    for k, v in d.items()
                    if isinstance(v, int | float) and not isinstance(v, bool)
                }
                val_dicts.append((lineno, m.group(1), vals))

    if not main_texts:
        main_texts = bare_texts
    cfg = _extract_config(main_texts)
    if cfg is None and not any(_VERL_STEP_RE.match(t) for _, t in step_lines):
        raise UnparseableFileError(
            str(path), "no verl output found (neither a config dict nor 'step:N - key:value' lines)"
        )

    def cfg_value(*keys: str, nth: int = 0) -> Any:
        if cfg is not None:
            return _get(cfg, *keys)
        return _regex_value(main_texts, keys[-1], nth)

    n_per_node = cfg_value("trainer", "n_gpus_per_node")
    nnodes = cfg_value("trainer", "nnodes")
    n_gpus: int | None = None
    if isinstance(n_per_node, int) and not isinstance(n_per_node, bool):
        n_gpus = n_per_node * (nnodes if isinstance(nnodes, int) and nnodes > 0 else 1)
        if not 0 < n_gpus <= 2**31:
            parsed.rejects.append(
                Reject(
                    1,
                    f"n_gpus_per_node={str(n_per_node)[:40]}, nnodes={str(nnodes)[:40]}",
                    f"run '{rid}': 'n_gpus' must be an integer: {str(n_gpus)[:24]}... is out of range; "
                    "value dropped, run loaded",
                )
            )
            n_gpus = None
    model_path = cfg_value("actor_rollout_ref", "model", "path")
    bsz = cfg_value("data", "train_batch_size")
    p_len = cfg_value("data", "max_prompt_length")
    r_len = cfg_value("data", "max_response_length")
    adv = cfg_value("algorithm", "adv_estimator")

    run: dict[str, Any] = {"run_id": rid, "kind": "rl", "source": source or path.parent.name}
    if model_path is not None:
        run["base_model"] = str(model_path)
    family = next((f for key, f in FAMILY_FROM_PATH if key in str(model_path).lower()), None)
    if family is None and n_params_read is not None:
        cls = n_params_read[0].lower()
        family = FAMILY_FROM_CLASS.get(cls, cls)
    if family is not None:
        run["model_family"] = family
    if n_params_read is not None:
        run["n_params"] = n_params_read[1]
    elif model_path is not None:
        for key, n in KNOWN_MODEL_PARAMS.items():
            if key in str(model_path).lower():
                run["n_params"] = n
                parsed.notes.append(f"n_params {n:.3g} mapped from the known-model table ({key})")
                break
    if isinstance(adv, str):
        run["algorithm"] = ADV_ESTIMATOR_LABELS.get(adv.lower(), adv)
    if bsz is not None and p_len is not None and r_len is not None:
        run["recipe"] = f"bsz{bsz}_p{p_len}_r{r_len}"
    if n_gpus is not None:
        run["n_gpus"] = n_gpus
    extras = {
        "n_gpus_per_node": n_per_node,
        "nnodes": nnodes,
        "train_batch_size": bsz,
        "max_prompt_length": p_len,
        "max_response_length": r_len,
        "adv_estimator": adv,
        "kl_coef": cfg_value("algorithm", "kl_ctrl", "kl_coef"),
        "actor_lr": cfg_value("actor_rollout_ref", "actor", "optim", "lr"),
        "critic_lr": cfg_value("critic", "optim", "lr", nth=1),
        "rollout_n": _get(cfg, "actor_rollout_ref", "rollout", "n"),
        "temperature": _get(cfg, "actor_rollout_ref", "rollout", "temperature"),
        "experiment_name": cfg_value("trainer", "experiment_name"),
        "project_name": cfg_value("trainer", "project_name"),
        "test_freq": cfg_value("trainer", "test_freq"),
    }
    config: dict[str, Any] = {k: v for k, v in extras.items() if v is not None}
    header = [_ANSI_RE.sub("", ln).strip() for ln in lines[:8]]
    for i, h in enumerate(header[:-1]):
        if h == "commit:" and header[i + 1]:
            config["verl_commit"] = header[i + 1]
        if h == "command:" and header[i + 1]:
            config["command"] = header[i + 1]
    if cfg is not None:
        config["verl_config"] = cfg
    else:
        parsed.notes.append("the verl config dict could not be evaluated; values read by pattern")
    run["config"] = config
    parsed.runs.append(run)

    if n_gpus is None:
        parsed.notes.append(
            "n_gpus not found in the config: gpu_hours_seen left empty (wall_time_s still filled)"
        )

    # ---- step lines -------------------------------------------------------------------------
    init_vals = [v for _, kind, v in val_dicts if kind == "Initial"]
    final_vals = [(ln, v) for ln, kind, v in val_dicts if kind == "Final"]
    cum_s = 0.0
    last_step: int | None = None
    n_nonfinite = 0
    if init_vals:
        for k, v in init_vals[0].items():
            parsed.steps.append(StepRow(rid, 0, _val_name(k), v, gpu_hours_seen=0.0, wall_time_s=0.0))
    skipped_echo = False
    segments = SegmentTracker()
    if init_vals:
        segments(0)
    for lineno, text in step_lines:
        m = _STEP_RE.match(text.rstrip())
        if m is None:
            parsed.rejects.append(Reject(lineno, text, "step line without ' - key:value' pairs"))
            continue
        step_s, rest = m.group(1), m.group(2)
        if not re.fullmatch(r"\d+", step_s):
            parsed.rejects.append(Reject(lineno, text, f"step {step_s!r} is not an integer"))
            continue
        step = int(step_s)
        values: dict[str, float] = {}
        bad: str | None = None
        for part in rest.split(" - "):
            part = part.strip()
            if not part:
                continue
            key, sep, val = part.rpartition(":")
            key = key.strip()
            if not sep or not key:
                bad = f"cannot split {part!r} into key:value"
                break
            f, why = to_float(val)
            if why is not None or f is None:
                bad = (
                    f"value of {key!r}: {why}"
                    if why and "out of range" in why
                    else f"value of {key!r} is not a number: {val.strip()!r}"
                )
                break
            values[key] = f
        if bad is not None:
            parsed.rejects.append(Reject(lineno, text, bad))
            continue
        if not values:
            parsed.rejects.append(Reject(lineno, text, "step line without metrics"))
            continue
        timing = {k: v for k, v in values.items() if k.startswith("timing/")}
        if not timing and all(not k.startswith("val/") for k in values):
            # validation-only echo of the initial dict (newer verl): "step:0 - test_score/...:0.521"
            if init_vals and step == 0:
                skipped_echo = True
                continue
            seg = segments(step, lineno)
            for k, v in values.items():  # non-finite values become flagged gaps in the loader
                parsed.steps.append(
                    StepRow(
                        rid,
                        step,
                        _val_name(k),
                        v,
                        gpu_hours_seen=0.0 if step == 0 else _gh(cum_s, n_gpus),
                        wall_time_s=0.0 if step == 0 else cum_s,
                        line=lineno,
                        segment=seg,
                    )
                )
            continue
        step_s_total = sum(v for k, v in timing.items() if k not in EXCLUDED_TIMING_KEYS and math.isfinite(v))
        cum_s += step_s_total
        gh = _gh(cum_s, n_gpus)
        seg = segments(step, lineno)
        for k, v in values.items():
            if not math.isfinite(v):
                n_nonfinite += 1  # kept: the loader stores it as a flagged gap, never a metric row
            parsed.steps.append(
                StepRow(rid, step, k, v, gpu_hours_seen=gh, wall_time_s=cum_s, line=lineno, segment=seg)
            )
        last_step = step if last_step is None else max(last_step, step)

    if final_vals:
        ln, vals = final_vals[-1]
        fstep = (last_step + 1) if last_step is not None else 0
        fseg = segments.segment
        for k, v in vals.items():
            parsed.steps.append(
                StepRow(
                    rid,
                    fstep,
                    _val_name(k),
                    v,
                    gpu_hours_seen=_gh(cum_s, n_gpus),
                    wall_time_s=cum_s,
                    line=ln,
                    segment=fseg,
                )
            )

    parsed.notes.append(
        "gpu_hours_seen derived from the logged phase timings (every timing/* key except "
        f"timing/testing) x n_gpus ({n_gpus}) / 3600, excluding validation and start-up time; "
        "wall_time_s is the cumulative sum of those timings in seconds"
    )
    if init_vals:
        parsed.notes.append("initial validation stored at step 0 with gpu_hours_seen 0 (R_0)")
    if skipped_echo:
        parsed.notes.append("step:0 echo of the initial validation skipped (dict value kept)")
    if final_vals:
        parsed.notes.append("final validation stored at step last+1 with the last step's compute")
    if n_nonfinite:
        parsed.notes.append(f"{n_nonfinite} non-finite metric values (nan/inf) kept as flagged gaps")
    parsed.notes.extend(segments.notes())
    return parsed


def _gh(cum_s: float, n_gpus: int | None) -> float | None:
    return None if n_gpus is None else cum_s * n_gpus / 3600.0
