"""The bundled sample data (data/samples/): counts, formats, unique run ids, published numbers, and no drift.

Every sample file is regenerated from the real data in ../shared/data by ``scripts/make_samples.py``;
``test_samples_equal_regenerated`` fails if the committed files differ from what the script writes.
Published numbers reproduced here come from each source's PROVENANCE.md (paper and arXiv id there).
"""

from __future__ import annotations

import importlib.util
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from data.ingest.records import RUN_COLUMNS

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "make_samples.py"

#: Files that are documentation, written by hand (not by the script).
HAND_WRITTEN = {"README.md", "PROVENANCE.md"}

#: Metadata keys of a JSON Lines run log (docs/FORMATS.md section 1).
META_KEYS = {"type", "config", *RUN_COLUMNS}

#: run-id prefix of each sample folder.
PREFIX = {
    "gadre_overtraining": "gadre/",
    "porian_compute_optimal": "porian/",
    "datablations_data_constrained": "datablations/",
    "misfitting_li2025": "misfitting/",
    "verl_gsm8k_ppo": "verl-jsonl/",
    "llmonkeys_pythia_math": "monkeys/",
    "tts_knowledge": "tts/",
    "marin_isoflops": "marin/",
    "llama3_isoflops": "llama3/",
}


def _load_script():
    spec = importlib.util.spec_from_file_location("make_samples", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def ms():
    return _load_script()


def _read_table(path: Path) -> pl.DataFrame:
    if path.suffix == ".parquet":
        return pl.read_parquet(path)
    return pl.read_csv(path, infer_schema_length=None)


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _data_files(root: Path) -> list[Path]:
    """Files the ingest would look at: not under a `reference` folder, not docs or licenses."""
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_dir() or "reference" in rel.parts or p.name in HAND_WRITTEN or p.name.startswith("LICENSE"):
            continue
        out.append(p)
    return out


def _classify(path: Path) -> str:
    """The input format docs/FORMATS.md assigns to a file, from its name and columns."""
    name = path.name
    if name == "scaling_run.json":
        return "sidecar"
    if name.endswith((".jsonl", ".jsonl.gz")):
        return "jsonl"
    if name.endswith(".log"):
        return "verl_log"
    if name.endswith((".csv", ".csv.gz", ".parquet")):
        cols = set(_read_table(path).columns)
        if "problem_id" in cols and "correct" in cols:
            return "eval_answers"
        if {"problem_id", "n_samples", "n_correct"} <= cols:
            return "eval_counts"
        if "run_id" in cols:
            return "tidy"
    return "skipped"


# --------------------------------------------------------------------------------------------------
# counts and formats


@pytest.mark.parametrize(
    ("rel", "rows", "fmt"),
    [
        ("gadre_overtraining/runs.csv", 104, "tidy"),
        ("porian_compute_optimal/isoflop_points.csv", 1745, "tidy"),
        ("datablations_data_constrained/runs.csv", 296, "tidy"),
        ("llmonkeys_pythia_math/counts.csv", 896, "eval_counts"),
        ("tts_knowledge/answers.parquet", 51870, "eval_answers"),
        ("marin_isoflops/runs.csv", 273, "tidy"),
        ("llama3_isoflops/points.csv", 133, "tidy"),
    ],
)
def test_table_row_counts_and_format(samples, rel, rows, fmt):
    path = samples / rel
    assert path.is_file(), f"{rel} missing; run scripts/make_samples.py"
    assert _read_table(path).height == rows
    assert _classify(path) == fmt


def test_jsonl_run_and_checkpoint_counts(samples):
    mis = sorted((samples / "misfitting_li2025").glob("*.jsonl"))
    assert len(mis) == 261
    assert sum(len(_jsonl(p)) - 1 for p in mis) == 4852
    verl = sorted((samples / "verl_gsm8k_ppo" / "jsonl").glob("*.jsonl"))
    assert [p.name for p in verl] == [
        "gemma-2-2b-it-sft_bsz512_p1024_r512.jsonl",
        "qwen2.5-0.5b_bsz256_p1024_r512.jsonl",
        "qwen2.5-0.5b_bsz256_p512_r256.jsonl",
    ]
    # 106 / 435 / 435 training steps plus the initial validation at step 0
    assert [len(_jsonl(p)) - 1 for p in verl] == [107, 436, 436]
    assert len(list((samples / "verl_gsm8k_ppo" / "raw").glob("*.log"))) == 3


def test_file_names_are_portable(samples):
    for p in samples.rglob("*"):
        name = p.name
        assert all(ch.isalnum() or ch in "-_.=+" for ch in name), name
        assert not name.endswith((".", " ")) and len(name) < 120, name


def test_licenses_and_reference_files_present(samples):
    assert (samples / "gadre_overtraining" / "LICENSE.txt").read_text().startswith("MIT License")
    for src in ("porian_compute_optimal", "tts_knowledge"):
        note = (samples / src / "LICENSE-NOTE.txt").read_text()
        assert "MIT" in note and "did not have a copy" in note
    for rel in (
        "porian_compute_optimal/reference/isoflop_optima.csv",
        "porian_compute_optimal/reference/power_law_fits.csv",
        "llmonkeys_pythia_math/reference/published_coverage_fits_brown2024_fig5.csv",
    ):
        assert (samples / rel).is_file(), rel
    for src in PREFIX:
        assert (samples / src / "PROVENANCE.md").is_file(), src
    assert (samples / "README.md").is_file()


def test_total_size_under_6mb(samples):
    total = sum(p.stat().st_size for p in samples.rglob("*") if p.is_file())
    assert total < 6_000_000, f"data/samples is {total / 1e6:.2f} MB"


def _check_meta(meta: dict, where: str) -> None:
    assert meta.get("type") == "run", where
    assert isinstance(meta.get("run_id"), str) and meta["run_id"], where
    assert meta.get("kind") in ("pretrain", "rl", "eval"), where
    assert set(meta) <= META_KEYS, f"{where}: unknown keys {set(meta) - META_KEYS}"
    for key in ("n_params", "n_params_nonembed", "n_tokens", "compute_flops", "budget_flops"):
        if key in meta:
            v = meta[key]
            assert isinstance(v, int | float) and not isinstance(v, bool) and v > 0, f"{where}: {key}={v!r}"
    for key in ("seed", "n_gpus"):
        if key in meta:
            assert isinstance(meta[key], int) and not isinstance(meta[key], bool), where
    if "compute_source" in meta:
        assert meta["compute_source"] in ("6ND", "measured"), where
    assert isinstance(meta.get("config", {}), dict), where
    for key in ("source", "model_family", "base_model", "corpus", "recipe", "algorithm", "loss_metric"):
        if key in meta:
            assert isinstance(meta[key], str) and meta[key], f"{where}: {key}"


def test_every_jsonl_is_valid_run_log(samples):
    files = sorted(samples.rglob("*.jsonl"))
    assert len(files) == 264
    for path in files:
        lines = path.read_text(encoding="utf-8").split("\n")
        assert lines[-1] == "", f"{path.name}: no newline at the end"
        recs = [json.loads(line) for line in lines[:-1]]
        _check_meta(recs[0], path.name)
        steps = [r["step"] for r in recs[1:]]
        assert all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in steps), path.name
        assert steps == sorted(set(steps)), f"{path.name}: steps not unique and ascending"
        keys = set()
        for r in recs[1:]:
            for k, v in r.items():
                assert v is None or (isinstance(v, int | float) and not isinstance(v, bool)), (path.name, k)
                assert v is None or math.isfinite(v), (path.name, k)
            keys |= set(r)
        if "loss_metric" in recs[0]:
            assert recs[0]["loss_metric"] in keys, f"{path.name}: loss_metric never logged"


def test_run_ids_unique_across_all_samples(samples):
    ids: list[str] = []
    for path in _data_files(samples):
        fmt = _classify(path)
        src = path.relative_to(samples).parts[0]
        if fmt == "jsonl":
            new = [_jsonl(path)[0]["run_id"]]
        elif fmt == "tidy":
            new = _read_table(path)["run_id"].to_list()
            assert len(new) == len(set(new)), f"{path}: duplicate run ids in a tidy table"
        elif fmt in ("eval_answers", "eval_counts"):
            new = _read_table(path)["run_id"].unique().to_list()
        elif fmt in ("verl_log", "sidecar"):
            continue  # the adapter names these runs; the side-car names their source
        else:
            pytest.fail(f"unexpected data file {path.relative_to(samples)}")
        assert all(i.startswith(PREFIX[src]) for i in new), (src, new[:3])
        ids.extend(new)
    dup = [i for i, n in Counter(ids).items() if n > 1]
    assert not dup, dup[:5]
    # 104 + 1745 + 296 + 261 + 3 + 7 + 64 + 273 + 133
    assert len(ids) == 2886


def test_tidy_tables_have_positive_n_d_c_and_finite_loss(samples):
    """The ingest rejects rows with a non-positive N, D or C (docs/FORMATS.md section 2): none may have one."""
    tidy = [p for p in _data_files(samples) if _classify(p) == "tidy"]
    assert len(tidy) == 5
    for path in tidy:
        t = _read_table(path)
        for col in ("n_params", "n_tokens", "compute_flops"):
            assert t[col].null_count() == 0 and (t[col] > 0).all(), (path.name, col)
        assert t["final_loss"].is_finite().all(), path.name
        assert set(t["compute_source"].unique()) <= {"6ND", "measured"}, path.name
        assert set(t["kind"].unique()) == {"pretrain"}, path.name


def test_eval_problem_ids_are_text_and_unique_per_run(samples):
    ans = pl.read_parquet(samples / "tts_knowledge" / "answers.parquet")
    assert ans.schema["problem_id"] == pl.String
    assert ans.schema["correct"] == pl.Boolean
    assert ans.select(pl.struct("run_id", "problem_id", "sample_idx").is_duplicated().sum()).item() == 0
    counts = pl.read_csv(samples / "llmonkeys_pythia_math" / "counts.csv")
    assert counts.select(pl.struct("run_id", "problem_id").is_duplicated().sum()).item() == 0
    assert ((counts["n_correct"] >= 0) & (counts["n_correct"] <= counts["n_samples"])).all()
    assert sorted(counts["run_id"].unique()) == [
        "monkeys/pythia-12b",
        "monkeys/pythia-160m",
        "monkeys/pythia-1b",
        "monkeys/pythia-2.8b",
        "monkeys/pythia-410m",
        "monkeys/pythia-6.9b",
        "monkeys/pythia-70m",
    ]


# --------------------------------------------------------------------------------------------------
# no drift: the samples are exactly what the script regenerates from the shared data


def test_samples_equal_regenerated(ms, shared_data, samples, tmp_path):
    out = tmp_path / "samples"
    written = ms.build(shared_data, out)
    gen = {p.relative_to(out).as_posix() for p in written}
    on_disk = {
        p.relative_to(samples).as_posix()
        for p in samples.rglob("*")
        if p.is_file() and p.name not in HAND_WRITTEN
    }
    assert gen == on_disk, {"missing": sorted(gen - on_disk)[:5], "extra": sorted(on_disk - gen)[:5]}
    for rel in sorted(gen):
        a, b = out / rel, samples / rel
        if rel.endswith(".parquet"):
            assert pl.read_parquet(a).equals(pl.read_parquet(b), null_equal=True), rel
        else:
            assert a.read_bytes() == b.read_bytes(), rel


def test_build_is_idempotent_and_removes_stale_jsonl(ms, shared_data, tmp_path):
    out = tmp_path / "s"
    first = ms.build(shared_data, out)
    stale = out / "misfitting_li2025" / "old-run.jsonl"
    stale.write_text("{}\n")
    (out / "misfitting_li2025" / "PROVENANCE.md").write_text("hand-written\n")
    second = ms.build(shared_data, out)
    assert first == second
    assert not stale.exists()
    assert (out / "misfitting_li2025" / "PROVENANCE.md").read_text() == "hand-written\n"


def test_build_rejects_missing_shared_folder(ms, tmp_path):
    with pytest.raises(FileNotFoundError, match="shared data folder not found"):
        ms.build(tmp_path / "nope", tmp_path / "out")


def test_helpers(ms):
    assert ms.marin_budget("isoflop-6e+17-d512-L6-B16-nemo-wider-depth-adapt") == 1.8e18
    assert ms.marin_budget("isoflop-1e+20-d768-L8-B512-comma-mix") == 3e20
    assert ms.marin_budget("exp2166-scaling-ladder-comma-validation-optimal-3e+19-5b04fb") is None
    assert ms.porian_recipe("tuned", "short", "const", "standard", "val") == "tuned-short-const-standard-val"
    rows = [
        {
            "sweep": "s",
            "model": "m",
            "total_steps": "4",
            "peak_lr": "0.1",
            "total_epochs": "2",
            "current_epoch": e,
        }
        for e in ("1", "2", "1", "2")
    ]
    assert [len(s) for s in ms.misfitting_segments(rows)] == [2, 2]
    assert ms._fmt_flops(1.25e16) == "1.25e16" and ms._fmt_flops(6e18) == "6e18"


# --------------------------------------------------------------------------------------------------
# published numbers reproduced from the samples


def test_datablations_published_law_r2_on_default_fit_set(samples):
    """Muennighoff et al. 2023 (arXiv:2305.16264): the notebook records R^2 = 0.7722 on the 182-run fit set."""
    d = pl.read_csv(samples / "datablations_data_constrained" / "runs.csv")
    d = d.filter(pl.col("in_default_fit_set") == "true")
    assert d.height == 182
    A, B, E = math.exp(6.255414), math.exp(7.3049974), math.exp(0.6254804)
    alpha = beta = 0.3526596
    R_D, R_N = 15.387756, 5.309743
    N, D, U, L = (d[c].to_numpy() for c in ("n_params", "n_tokens", "unique_tokens", "final_loss"))
    G = (alpha * A / (beta * B)) ** (1 / (alpha + beta))
    U_N = np.minimum(N, G**2 * U)  # N_opt for U tokens under the base law (alpha = beta)
    rn, rd = np.maximum(N / U_N - 1, 0), np.maximum(D / U - 1, 0)
    pred = (
        E
        + A / (U_N + U_N * R_N * (1 - np.exp(-rn / R_N))) ** alpha
        + B / (U + U * R_D * (1 - np.exp(-rd / R_D))) ** beta
    )
    r2 = 1 - np.sum((L - pred) ** 2) / np.sum((L - L.mean()) ** 2)
    assert r2 == pytest.approx(0.7722, abs=5e-5)


def _parabola_minima(df: pl.DataFrame, x_col: str) -> tuple[np.ndarray, np.ndarray]:
    """Per budget: loss vs log(x) parabola, its minimum (kept only when it is inside the sampled range)."""
    cs, xs = [], []
    for (c,), g in sorted(df.group_by("budget_flops"), key=lambda t: t[0][0]):
        if g.height < 3:
            continue
        lx = np.log(g[x_col].to_numpy())
        a2, a1, _ = np.polyfit(lx, g["final_loss"].to_numpy(), 2)
        xm = -a1 / (2 * a2)
        if a2 > 0 and lx.min() < xm < lx.max():
            cs.append(c)
            xs.append(math.exp(xm))
    return np.array(cs), np.array(xs)


def test_llama3_isoflop_token_exponent(samples):
    """Llama 3 (arXiv:2407.21783) Sec. 3.2.1: D*(C) = A C^alpha, (alpha, A) = (0.53, 0.29) as printed.

    PROVENANCE's own refit on this digitisation: alpha = 0.537, A = 0.299, D*(3.8e25) ~ 16.1T (paper 16.55T).
    """
    p = pl.read_csv(samples / "llama3_isoflops" / "points.csv")
    assert np.allclose(6 * p["n_params"] * p["n_tokens"], p["compute_flops"], rtol=1e-12)
    cs, ds = _parabola_minima(p, "n_tokens")
    assert len(cs) == 10
    alpha, log_a = np.polyfit(np.log(cs), np.log(ds), 1)
    assert alpha == pytest.approx(0.537, abs=0.002)
    assert math.exp(log_a) == pytest.approx(0.299, rel=0.03)
    assert math.exp(log_a) * 3.8e25**alpha == pytest.approx(16.1e12, rel=0.03)


def test_porian_isoflop_exponents_kaplan_vs_chinchilla(samples):
    """Porian et al. 2024 (arXiv:2406.19146): N* ~ C^a, a = 0.835 (Kaplan reproduction) -> 0.497 (tuned), RW.

    A plain per-budget parabola (no bootstrap, no interpolation) gets within 0.035 of both published values.
    """
    p = pl.read_csv(samples / "porian_compute_optimal" / "isoflop_points.csv").filter(
        pl.col("corpus") == "rw"
    )
    ref = pl.read_csv(samples / "porian_compute_optimal" / "reference" / "power_law_fits.csv")
    for recipe, published in (
        ("base-long-kaplan-kaplan-train", 0.835),
        ("tuned-short-const-standard-val", 0.497),
    ):
        row = ref.filter(
            (pl.col("dataset") == "rw")
            & (pl.concat_str(["hparams", "warmup", "decay", "param_count", "val"], separator="-") == recipe)
            & (pl.col("fit") == "bs_median_weighted")
        )
        assert row["n_exponent"].item() == pytest.approx(published, abs=5e-4)
        cs, ns = _parabola_minima(p.filter(pl.col("recipe") == recipe), "n_params")
        a = np.polyfit(np.log(cs), np.log(ns), 1)[0]
        assert a == pytest.approx(published, abs=0.035), recipe
    # in every row 6 N D = C exactly (PROVENANCE)
    assert np.allclose(6 * p["n_params"] * p["n_tokens"], p["compute_flops"], rtol=1e-6)


def test_monkeys_coverage_at_10k_samples(samples):
    """Brown et al. 2024 (arXiv:2407.21787) Fig. 5: coverage at k = 10^4 is 0.266 (Pythia-70M), 0.875 (12B)."""
    c = pl.read_csv(samples / "llmonkeys_pythia_math" / "counts.csv")
    cov = c.group_by("run_id").agg((pl.col("n_correct") > 0).mean().alias("coverage"))
    cov = dict(cov.iter_rows())
    assert cov["monkeys/pythia-70m"] == pytest.approx(0.266, abs=0.001)
    assert cov["monkeys/pythia-12b"] == pytest.approx(0.875, abs=0.001)
    assert (c["n_samples"] == 10_000).all()


def test_tts_accuracy_vs_thinking(samples):
    """Zhao et al. 2025 (arXiv:2509.06861): gemini-2.5-flash SimpleQA 0.126 (no thinking) -> 0.286 (2048 tokens);
    o4-mini flat at 0.180-0.189 while median output tokens grow from 460 to 3,470."""
    a = pl.read_parquet(samples / "tts_knowledge" / "answers.parquet")
    acc = dict(a.group_by("run_id").agg(pl.col("correct").mean()).iter_rows())
    assert acc["tts/gemini-2.5-flash/simpleqa/no_think"] == pytest.approx(0.126, abs=0.0005)
    assert acc["tts/gemini-2.5-flash/simpleqa/budget2048"] == pytest.approx(0.286, abs=0.0005)
    o4 = [acc[f"tts/o4-mini/simpleqa/{lvl}_effort"] for lvl in ("low", "medium", "high")]
    assert min(o4) == pytest.approx(0.180, abs=0.0005) and max(o4) == pytest.approx(0.189, abs=0.0005)
    med = dict(
        a.filter(pl.col("run_id").str.starts_with("tts/o4-mini/simpleqa/"))
        .group_by("setting")
        .agg(pl.col("output_tokens").median())
        .iter_rows()
    )
    assert med["low_effort"] == pytest.approx(460, abs=1) and med["high_effort"] == pytest.approx(3470, abs=1)
    # the 824 DeepSeek-R1-Distill-Llama-8B SimpleQA exd0 rows were dropped upstream (byte-identical to FRAMES)
    assert "tts/DeepSeek-R1-Distill-Llama-8B/simpleqa/exd0" not in acc
    by_setting = a.group_by("setting_knob").agg(pl.col("setting_value").null_count(), pl.len())
    assert dict(by_setting.select("setting_knob", "setting_value").iter_rows())["reasoning_effort"] == (
        a.filter(pl.col("setting_knob") == "reasoning_effort").height
    )


def test_verl_validation_accuracy(samples):
    """verl GSM8K logs: initial Qwen accuracy 1/1312, best 0.640 (Gemma) and 0.538 (Qwen p512/r256) as in the
    log file names, final Qwen p1024/r512 0.5686 ("Final validation metrics")."""
    d = samples / "verl_gsm8k_ppo" / "jsonl"
    runs = {p.stem: _jsonl(p) for p in d.glob("*.jsonl")}
    val = {
        k: [(r["step"], r["val/gsm8k_acc"]) for r in v[1:] if "val/gsm8k_acc" in r] for k, v in runs.items()
    }
    q1024 = val["qwen2.5-0.5b_bsz256_p1024_r512"]
    assert q1024[0] == (0, pytest.approx(1 / 1312))
    assert q1024[-1] == (435, pytest.approx(0.5686, abs=1e-4))
    assert max(v for _, v in val["gemma-2-2b-it-sft_bsz512_p1024_r512"]) == pytest.approx(0.640)
    assert max(v for _, v in val["qwen2.5-0.5b_bsz256_p512_r256"]) == pytest.approx(0.538)
    assert [len(v) for v in (val["gemma-2-2b-it-sft_bsz512_p1024_r512"], q1024)] == [11, 45]
    # validations after every 10 PPO updates
    assert [s for s, _ in q1024[1:11]] == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    # GPU-hours = wall seconds x n_gpus / 3600 (Gemma used 2 GPUs)
    gem = runs["gemma-2-2b-it-sft_bsz512_p1024_r512"]
    assert gem[0]["n_gpus"] == 2 and gem[0]["n_params"] == 2_610_000_000
    last = gem[-1]
    assert last["gpu_hours_seen"] == pytest.approx(last["wall_time_s"] * 2 / 3600, rel=1e-4)


def test_misfitting_final_checkpoints_match_last_ckpt_file(samples, shared_data):
    """The last record of each of the 261 run logs equals a row of scaling_results_last_ckpt_only.csv."""
    finals = []
    for p in sorted((samples / "misfitting_li2025").glob("*.jsonl")):
        recs = _jsonl(p)
        meta = recs[0]
        last = max(
            recs[1:], key=lambda r: r["tokens_seen"] if r["step"] <= meta["config"]["total_steps"] else -1
        )
        assert last["step"] == meta["config"]["total_steps"]
        assert meta["n_tokens"] == meta["config"]["total_steps"] * 1_048_576
        for r in recs[1:]:
            assert r["tokens_seen"] == r["step"] * 1_048_576
            assert r["flops_seen"] == pytest.approx(6 * meta["n_params"] * r["tokens_seen"], rel=1e-15)
        c = meta["config"]
        finals.append((c["model"], c["total_steps"], c["peak_lr"], c["sweep"], last["c4_val/loss"]))
    ref = pl.read_csv(shared_data / "misfitting_li2025" / "scaling_results_last_ckpt_only.csv")
    ref_rows = ref.select("model", "total_steps", "peak_lr", "sweep", "loss").rows()
    assert Counter(finals) == Counter(ref_rows)
    # model sizes (N / N_no_emb) from PROVENANCE: 12m 57.2M / 12.0M, 1b 1182.8M / 1002.0M
    sizes = {}
    for p in (samples / "misfitting_li2025").glob("*.jsonl"):
        m = _jsonl(p)[0]
        sizes[m["config"]["model"]] = (m["n_params"], m["n_params_nonembed"])
    assert len(sizes) == 11
    assert sizes["misfitting_12m"][0] / 1e6 == pytest.approx(57.2, abs=0.05)
    assert sizes["misfitting_12m"][1] / 1e6 == pytest.approx(12.0, abs=0.05)
    assert sizes["misfitting_1b"][0] / 1e6 == pytest.approx(1182.8, abs=0.05)
    assert sizes["misfitting_1b"][1] / 1e6 == pytest.approx(1002.0, abs=0.05)


def test_gadre_table(samples):
    """Gadre et al. 2024 (arXiv:2403.08540): C = 6ND with total N; err_avg_17 is the mean error of the 17 tasks."""
    g = pl.read_csv(samples / "gadre_overtraining" / "runs.csv", infer_schema_length=None)
    assert np.allclose(g["compute_flops"], 6.0 * g["n_params"] * g["n_tokens"], rtol=1e-15)
    assert np.allclose(g["tokens_per_param"], g["n_tokens"] / g["n_params"])
    assert sorted(g["corpus"].unique()) == ["c4_original", "rpj", "rw_original"]
    assert len([c for c in g.columns if c.startswith("acc_")]) == 46
    assert "loss_c4_val" not in g.columns and "loss_paloma_ptb" in g.columns
    tasks17 = (
        "bigbench_operators pubmed_qa_labeled hellaswag_zeroshot boolq arc_easy coqa bigbench_dyck_languages "
        "lambada_openai bigbench_novel_concepts winograd bigbench_cs_algorithms commonsense_qa "
        "bigbench_qa_wikidata hellaswag copa squad piqa"
    ).split()
    err17 = g.select(pl.mean_horizontal([1 - pl.col(f"acc_{t}") for t in tasks17])).to_series()
    assert np.allclose(err17, g["err_avg_17"], atol=1e-12)
    row = g.filter(pl.col("run_id") == "gadre/rpj-open_lm_7b-1.0")
    assert row["n_params"].item() == 6_889_410_560 and row["tokens_per_param"].item() == 20.0


def test_marin_flop_conventions(samples):
    """Marin PROVENANCE: measured FLOPs = 3 x the (forward-only) name budget for ladder runs;
    6ND / measured C has median 0.995 and range 0.93-1.35."""
    m = pl.read_csv(samples / "marin_isoflops" / "runs.csv")
    assert dict(m.group_by("corpus").len().iter_rows()) == {"comma": 92, "dclm": 85, "nemotron": 96}
    ladder = m.filter(pl.col("recipe") == "isoflop-ladder")
    assert ladder.height == 258 and ladder["budget_flops"].null_count() == 0
    assert np.allclose(ladder["compute_flops"], ladder["budget_flops"], rtol=0.01)
    assert m.filter(pl.col("recipe") == "validation-optimal")["budget_flops"].null_count() == 15
    ratio = 6.0 * m["n_params"].cast(pl.Float64) * m["n_tokens"] / m["compute_flops"]
    assert ratio.median() == pytest.approx(0.995, abs=0.0005)
    assert ratio.min() == pytest.approx(0.93, abs=0.005) and ratio.max() == pytest.approx(1.35, abs=0.005)
    assert m.filter(pl.col("corpus") == "nemotron")["lr"].null_count() == 96
