"""verl console-log adapter: the three real GSM8K PPO logs against the tidy CSV made from them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from data.ingest.records import RUN_COLUMNS, UnparseableFileError
from data.ingest.verl_log import parse_verl_log

VAL = "val/test_score/openai/gsm8k"

# raw log file -> (CSV run_id, last step, n_gpus, recipe, n_params read from the log)
LOGS = {
    "Qwen2.5-0.5B-bsz256_2-prompt1024-resp512-0.567.log": (
        "qwen2.5-0.5b_bsz256_p1024_r512",
        434,
        1,
        "bsz256_p1024_r512",
        494.03e6,
    ),
    "Qwen2.5-0.5B-bsz256_2-prompt512-resp256-0.538.log": (
        "qwen2.5-0.5b_bsz256_p512_r256",
        434,
        1,
        "bsz256_p512_r256",
        494.03e6,
    ),
    "gemma-2-2b-it-ppo-bsz512_4-prompt1024-resp-512-0.640.log": (
        "gemma-2-2b-it-sft_bsz512_p1024_r512",
        105,
        2,
        "bsz512_p1024_r512",
        2.61e9,
    ),
}


@pytest.fixture(scope="module")
def csv_rows(shared_data) -> list[dict[str, str]]:
    with open(shared_data / "verl_gsm8k_ppo" / "verl_gsm8k_ppo_steps.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("name", sorted(LOGS))
def test_real_log_matches_tidy_csv(shared_data, csv_rows, name):
    csv_id, last, n_gpus, recipe, n_params = LOGS[name]
    parsed = parse_verl_log(shared_data / "verl_gsm8k_ppo" / "raw" / name)
    assert parsed.format == "verl_log"
    assert parsed.rejects == []
    assert len(parsed.runs) == 1
    run = parsed.runs[0]
    assert run["run_id"] == name[: -len(".log")]
    assert run["kind"] == "rl" and run["source"] == "raw"  # the folder holding the log (no --source, no side-car)
    assert run["n_gpus"] == n_gpus and run["recipe"] == recipe and run["algorithm"] == "ppo-gae"
    assert run["n_params"] == pytest.approx(n_params)
    assert run["model_family"] == ("gemma-2" if name.startswith("gemma") else "qwen2.5")
    assert run["config"]["kl_coef"] == 0.001
    assert run["config"]["actor_lr"] == 1e-6 and run["config"]["critic_lr"] == 1e-5
    assert set(run) - {"config"} <= set(RUN_COLUMNS)
    assert any("GPU-hours" in n or "gpu_hours_seen" in n for n in parsed.notes)

    rows = [r for r in csv_rows if r["run_id"] == csv_id]
    train = {int(r["step"]): r for r in rows if r["row_type"] == "train_step"}
    score = {s.step: s for s in parsed.steps if s.metric == "critic/score/mean"}
    assert sorted(score) == list(range(last + 1)) == sorted(train)
    # cumulative GPU-hours (phase timings x n_gpus / 3600) agree with the CSV at every step
    for step, r in train.items():
        assert score[step].gpu_hours_seen == pytest.approx(float(r["cum_gpu_hours_excl_eval"]), rel=1e-3)
        assert score[step].value == pytest.approx(float(r["critic_score_mean"]), abs=1e-12)
    assert score[last].gpu_hours_seen == pytest.approx(
        float(train[last]["cum_gpu_hours_excl_eval"]), rel=1e-3
    )
    assert score[last].wall_time_s == pytest.approx(float(train[last]["cum_wall_sec_excl_eval"]), rel=1e-6)

    # validation accuracies: initial -> step 0 at 0 GPU-hours (R0), in-training, final -> last + 1
    val = {s.step: s for s in parsed.steps if s.metric == VAL}
    init = next(r for r in rows if r["row_type"] == "initial_validation")
    assert val[0].value == pytest.approx(float(init["val_gsm8k_acc"]), abs=1e-12)
    assert val[0].gpu_hours_seen == 0.0
    for step, r in train.items():
        if r["val_gsm8k_acc"]:
            assert val[step].value == pytest.approx(float(r["val_gsm8k_acc"]), abs=1e-12)
            assert val[step].gpu_hours_seen == score[step].gpu_hours_seen
    final = [r for r in rows if r["row_type"] == "final_validation"]
    if final:
        assert val[last + 1].value == pytest.approx(float(final[0]["val_gsm8k_acc"]), abs=1e-12)
        assert val[last + 1].gpu_hours_seen == score[last].gpu_hours_seen
    n_val_csv = 1 + sum(1 for r in rows if r["row_type"] != "initial_validation" and r["val_gsm8k_acc"])
    assert len(val) == n_val_csv


def test_published_numbers_of_the_logs(shared_data):
    """Spot values: Qwen 1024/512 initial accuracy 1/1312 and final 0.5686; Gemma 8.054 GPU-hours at step 105."""
    raw = shared_data / "verl_gsm8k_ppo" / "raw"
    q = parse_verl_log(raw / "Qwen2.5-0.5B-bsz256_2-prompt1024-resp512-0.567.log")
    v = {s.step: s.value for s in q.steps if s.metric == VAL}
    assert v[0] == pytest.approx(1 / 1312, rel=1e-12)
    assert v[435] == pytest.approx(0.5685975609756098, abs=1e-15)
    assert q.runs[0]["base_model"] == "Qwen/Qwen2.5-0.5B-Instruct"
    g = parse_verl_log(raw / "gemma-2-2b-it-ppo-bsz512_4-prompt1024-resp-512-0.640.log")
    gh = max(s.gpu_hours_seen for s in g.steps)
    assert gh == pytest.approx(14497.358 * 2 / 3600, rel=1e-6)
    # the rounded "step:0 - test_score/openai/gsm8k:0.521" echo is not a second metric
    assert not any(s.metric == "test_score/openai/gsm8k" for s in g.steps)
    assert g.runs[0]["base_model"] == "sft_model_path/global_step_58"


ESC = "\x1b[36m"
RST = "\x1b[0m"


def _write(tmp_path: Path, lines: list[str], name: str = "run-x.log") -> Path:
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def _cfg_lines(model: str = "Qwen/Qwen2.5-0.5B-Instruct") -> list[str]:
    pre = f"{ESC}(main_task pid=7){RST} "
    return [
        pre + "{'actor_rollout_ref': {'model': {'path': '" + model + "'}},",
        pre + " 'algorithm': {'adv_estimator': 'grpo', 'kl_ctrl': {'kl_coef': 0.002}},",
        pre + " 'data': {'max_prompt_length': 512, 'max_response_length': 256, 'train_batch_size': 64},",
        pre + " 'trainer': {'experiment_name': 'x', 'n_gpus_per_node': 4, 'nnodes': 2}}",
    ]


def test_malformed_step_lines_are_rejected_with_line_numbers(tmp_path):
    pre = f"{ESC}(main_task pid=7){RST} "
    lines = _cfg_lines() + [
        pre + "\"Initial validation metrics: {'test_score/openai/gsm8k': 0.25}\"",  # line 5
        pre + "step:0 - timing/gen:10.0 - timing/update_actor:8.0 - critic/score/mean:0.3",  # 6
        pre + "step:abc - timing/gen:10.0 - critic/score/mean:0.4",  # 7
        pre + "step:1 - timing/gen:10.0 - critic/kl:abc - critic/score/mean:0.4",  # 8
        pre + "step:2 - timing/gen:9.0 - timing/testing:50.0 - val/test_score/openai/gsm8k:0.5",  # 9
    ]
    parsed = parse_verl_log(_write(tmp_path, lines))
    assert [(r.line, r.reason) for r in parsed.rejects] == [
        (7, "step 'abc' is not an integer"),
        (8, "value of 'critic/kl' is not a number: 'abc'"),
    ]
    run = parsed.runs[0]
    assert run["run_id"] == "run-x" and run["n_gpus"] == 8 and run["algorithm"] == "grpo"
    assert run["recipe"] == "bsz64_p512_r256" and run["config"]["kl_coef"] == 0.002
    # n_params not printed in this log: mapped from the known-model table (Qwen2.5-0.5B -> 0.49e9)
    assert run["n_params"] == 0.49e9
    assert any("known-model table" in n for n in parsed.notes)
    got = {(s.step, s.metric): s for s in parsed.steps}
    assert set(got) == {
        (0, VAL), (0, "timing/gen"), (0, "timing/update_actor"), (0, "critic/score/mean"),
        (2, "timing/gen"), (2, "timing/testing"), (2, VAL),
    }  # fmt: skip
    assert got[(0, VAL)].value == 0.25 and got[(0, VAL)].gpu_hours_seen == 0.0
    # step 0: 18 s x 8 GPUs; step 2 adds 9 s (testing excluded, rejected step 1 not counted)
    assert got[(0, "critic/score/mean")].gpu_hours_seen == pytest.approx(18 * 8 / 3600)
    assert got[(2, VAL)].gpu_hours_seen == pytest.approx(27 * 8 / 3600)
    assert got[(2, VAL)].wall_time_s == pytest.approx(27.0)
    assert got[(2, VAL)].line == 9


def test_empty_and_unrelated_files_raise(tmp_path):
    empty = tmp_path / "empty.log"
    empty.write_text("")
    with pytest.raises(UnparseableFileError, match="no verl output"):
        parse_verl_log(empty)
    other = _write(tmp_path, ["INFO starting server", "GET /index.html 200", "step: done"], "web.log")
    with pytest.raises(UnparseableFileError, match="no verl output"):
        parse_verl_log(other)


def test_source_and_run_id_overrides(tmp_path):
    lines = _cfg_lines("google/gemma-2-2b-it") + ["(main_task pid=7) step:0 - timing/gen:36.0 - x:1"]
    parsed = parse_verl_log(_write(tmp_path, lines), source="mine", run_id="r42")
    run = parsed.runs[0]
    assert (run["run_id"], run["source"], run["n_params"]) == ("r42", "mine", 2.61e9)
    assert parsed.steps[0].gpu_hours_seen == pytest.approx(36 * 8 / 3600)
