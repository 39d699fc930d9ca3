"""TensorBoard event files (``events.out.tfevents.*``), read with tensorboardX's protobuf definitions.

Why tensorboardX: it ships the ``Event``/``Summary``/``HParamsPluginData`` protobuf classes and the masked
CRC-32C of the TFRecord framing with only ``protobuf`` and ``numpy`` as dependencies, where the ``tensorboard``
package pulls in its server (grpcio, werkzeug, markdown) and TensorFlow-style loaders that read whole logdirs.
The TFRecord framing itself is four fields (``uint64 length``, ``uint32 masked_crc32c(length)``, ``data``,
``uint32 masked_crc32c(data)``), read here.

One run per folder holding event files (TensorBoard's own definition of a run; the time-named sub-folder that
``add_hparams`` writes belongs to its run, and its ``metric_dict`` values become summary values); several files in one folder
(a restarted job) are read in name order (their names start with the creation time) and a step logged again
keeps the later value. Scalars come from ``simple_value`` (tensorboardX, ``torch.utils.tensorboard``) or from
scalar tensors of the ``scalars`` plugin (TF2); ``wall_time_s`` is seconds since the run's first event.
Hyper-parameters from the ``hparams`` plugin's session-start info and text summaries (``add_text``, e.g. a
config dump) go into the run's config; N, D, C are read from them by key name (``common.NDC_KEYS``).
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any

from data.ingest.adapters.common import (
    Context,
    Points,
    finish_run,
    labels_from,
    ndc_from,
    pick_loss_metric,
    run_name,
    tokens_to_meta,
)
from data.ingest.records import ParsedFile, UnparseableFileError

FORMAT = "tensorboard"
_DT_FLOAT, _DT_DOUBLE, _DT_HALF = 1, 2, 19


def _masked_crc(data: bytes) -> int:
    from tensorboardX.record_writer import masked_crc32c

    return masked_crc32c(data)


def is_event_file(path: Path) -> bool:
    """True for a file named like a TensorBoard event file whose first record has a valid TFRecord header."""
    if ".tfevents." not in path.name:
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
    except OSError:
        return False
    return len(head) == 12 and struct.unpack("<I", head[8:])[0] == _masked_crc(head[:8])


_HPARAMS_SUBDIR = re.compile(r"\d+\.\d+")


def run_folder(event_file: Path, event_dirs: set[Path]) -> Path:
    """The run an event file belongs to: its folder, except for the time-named sub-folder (``1700000100.5``) that
    ``SummaryWriter.add_hparams`` writes inside a run folder (one of ``event_dirs``), which belongs to that run."""
    d = event_file.parent
    if _HPARAMS_SUBDIR.fullmatch(d.name) and d.parent in event_dirs:
        return d.parent
    return d


def read_records(path: Path) -> tuple[list[bytes], str | None]:
    """The TFRecord payloads of one file, and a note when the file ends in a partial record (a job still
    writing) or a corrupt header (reading stops there; what came before is kept)."""
    out: list[bytes] = []
    data = path.read_bytes()
    pos = 0
    while pos < len(data):
        if len(data) - pos < 12:
            return out, f"{path.name}: partial record at byte {pos} (file still being written?)"
        (length,) = struct.unpack("<Q", data[pos : pos + 8])
        if struct.unpack("<I", data[pos + 8 : pos + 12])[0] != _masked_crc(data[pos : pos + 8]):
            return out, f"{path.name}: corrupt record header at byte {pos}; later records not read"
        end = pos + 12 + length + 4
        if end > len(data):
            return out, f"{path.name}: partial record at byte {pos} (file still being written?)"
        out.append(data[pos + 12 : pos + 12 + length])
        pos = end
    return out, None


def _tensor_scalar(t) -> float | None:
    if list(t.tensor_shape.dim):
        return None
    if t.dtype == _DT_FLOAT:
        if t.float_val:
            return float(t.float_val[0])
        if len(t.tensor_content) == 4:
            return struct.unpack("<f", t.tensor_content)[0]
    if t.dtype == _DT_DOUBLE:
        if t.double_val:
            return float(t.double_val[0])
        if len(t.tensor_content) == 8:
            return struct.unpack("<d", t.tensor_content)[0]
    return None


def _text_config(text: str) -> Any:
    """A text summary that holds a JSON/YAML mapping (a config dump) as a dict, else the text."""
    import yaml

    for loader in (json.loads, yaml.safe_load):
        try:
            d = loader(text)
        except Exception:  # noqa: BLE001 - any parse failure means "plain text"
            continue
        if isinstance(d, dict):
            return d
    return text


def parse_tb_dir(unit: Path, members: list[Path], ctx: Context) -> ParsedFile:
    """Parse the event files of one TensorBoard run folder into one run.

    Returns
    -------
    ParsedFile
        ``format="tensorboard"``; one run (``run_id`` = the folder's path below the ingest root's parent, kind
        pretrain unless the side-car says otherwise) with one point per (step, tag), ``wall_time_s`` kept;
        ``config`` holds ``hparams`` (hparams plugin), ``text`` (text summaries, parsed when they are a
        JSON/YAML mapping) and ``start_wall_time`` (Unix seconds).

    Raises
    ------
    UnparseableFileError
        If no member holds a readable event.
    """
    from tensorboardX.proto import event_pb2, plugin_hparams_pb2

    parsed = ParsedFile(path=str(unit), format=FORMAT)
    rid = run_name(unit, ctx.root)
    pts = Points(segments=True)
    hparams: dict[str, Any] = {}
    texts: dict[str, Any] = {}
    t0: float | None = None
    n_events = 0
    for f in sorted(members, key=lambda p: p.name):
        records, note = read_records(f)
        if note:
            parsed.notes.append(note)
        for rec in records:
            ev = event_pb2.Event()
            try:
                ev.ParseFromString(rec)
            except Exception as e:  # noqa: BLE001 - protobuf DecodeError
                parsed.notes.append(f"{f.name}: an undecodable event skipped ({e})")
                continue
            n_events += 1
            if ev.wall_time and (t0 is None or ev.wall_time < t0):
                t0 = ev.wall_time
            if not ev.HasField("summary"):
                continue
            for v in ev.summary.value:
                plugin = v.metadata.plugin_data.plugin_name if v.HasField("metadata") else ""
                kind = v.WhichOneof("value")
                if plugin == "hparams":
                    hp = plugin_hparams_pb2.HParamsPluginData()
                    hp.ParseFromString(v.metadata.plugin_data.content)
                    if hp.WhichOneof("data") == "session_start_info":
                        for k, val in hp.session_start_info.hparams.items():
                            which = val.WhichOneof("kind")
                            hparams[k] = getattr(val, which) if which else None
                    continue
                if plugin == "text" and kind == "tensor":
                    vals = [s.decode("utf-8", "replace") for s in v.tensor.string_val]
                    if vals:
                        tag = v.tag.removesuffix("/text_summary")  # tensorboardX's suffix for add_text
                        texts[tag] = _text_config(vals[0] if len(vals) == 1 else "\n".join(vals))
                    continue
                if kind == "simple_value":
                    value: float | None = v.simple_value
                elif kind == "tensor" and plugin in ("scalars", ""):
                    value = _tensor_scalar(v.tensor)
                else:
                    continue
                if value is not None:
                    step = (
                        int(ev.step) if f.parent == unit else None
                    )  # add_hparams' metric_dict: summary values
                    pts.add(rid, step, v.tag, value, wall_time_s=ev.wall_time if step is not None else None)
    if n_events == 0:
        raise UnparseableFileError(str(unit), "no readable TensorBoard event in this folder")
    for row in pts.rows:  # absolute wall time -> seconds since the run's first event
        if row.wall_time_s is not None and t0 is not None:
            row.wall_time_s = row.wall_time_s - t0
    config: dict[str, Any] = {
        "start_wall_time": t0,
        "event_files": [m.relative_to(unit).as_posix() for m in members],
    }
    if hparams:
        config["hparams"] = hparams
    if texts:
        config["text"] = texts
    meta: dict[str, Any] = {"run_id": rid, "kind": "pretrain", "config": config}
    meta.update(
        ndc_from({"hparams": hparams, "text": {k: v for k, v in texts.items() if isinstance(v, dict)}})
    )
    meta.update(labels_from(hparams))
    meta["loss_metric"] = pick_loss_metric(pts.metrics())
    tokens_to_meta(pts, rid, meta, parsed)
    finish_run(parsed, meta, ctx, unit)
    pts.flush(parsed)
    return parsed
