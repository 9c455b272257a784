"""scripts/report_rl: a run's variant names its row, the lag is a column, full-episode runs get their own T."""

from __future__ import annotations

import json

from scripts import report_rl


def write_run(sweep, name, method, horizon, seed, lag, success):
    run = sweep / name
    run.mkdir(parents=True)
    summary = {"task": "rl", "method": method, "horizon": horizon, "seed": seed, "samples": 1000}
    summary |= {"wall_seconds": 1.0, "env": "dni_rnn/MemoryChain-v0", "lag": float(lag), "success_rate": success}
    (run / "summary.json").write_text(json.dumps(summary))


def test_variants_are_rows_and_full_episode_runs_one_column(tmp_path):
    sweep = tmp_path / "rl_horizon"
    sweep.mkdir()
    (sweep / "sweep.json").write_text(json.dumps({"budget_samples": 1000}))
    for seed in (0, 1):
        write_run(sweep, f"rl__bptt__T4__s{seed}__memory-length16", "bptt", 4, seed, 16, 0.5)
        write_run(sweep, f"rl__bptt__T4__s{seed}__memory-length16__rtu", "bptt", 4, seed, 16, 0.95 + 0.01 * seed)
        write_run(sweep, f"rl__bptt__T4__s{seed}__memory-length8__rtu", "bptt", 4, seed, 8, 1.0)
        write_run(sweep, f"rl__bptt__T18__s{seed}__episode", "bptt", 18, seed, 16, 1.0)
        write_run(sweep, f"rl__bptt__T34__s{seed}__episode_chrono", "bptt", 34, seed, 32, 0.97)
    write_run(sweep, "rl__dni__T4__s0__memory-length16__levers", "dni", 4, 0, 16, 0.92)  # one seed only
    results, page = tmp_path / "rl.json", tmp_path / "RL.md"
    assert report_rl.main(["--sweep", str(sweep), "--results", str(results), "--figure", str(tmp_path / "f.png"),
                           "--markdown", str(page)]) == 0  # fmt: skip
    text = page.read_text()
    assert "| method | T=episode | T=4 |" in text
    assert "| bptt |  | - (-/-) |" in text  # lag 16 at T = 4 is not solved by plain bptt
    assert "| bptt (rtu) |  | 16 (16/16) |" in text
    assert "| bptt (episode) | 16 (16/16) |  |" in text
    assert "| bptt (episode_chrono) | 32 (32/32) |  |" in text  # an episode_... variant is a full-episode row too
    assert "| dni (levers) |  | 16 (16) |" in text  # the seeds it ran, not every seed of the sweep
    assert (tmp_path / "f.png").stat().st_size > 0
    records = json.loads(results.read_text())
    assert {r["method"] for r in records} == {
        "bptt",
        "bptt (rtu)",
        "bptt (episode)",
        "bptt (episode_chrono)",
        "dni (levers)",
    }
    assert {r["window"] for r in records if r["method"] == "bptt (episode)"} == {18}


def test_replace_env_drops_an_older_grid_of_that_env(tmp_path):
    sweep = tmp_path / "new"
    sweep.mkdir()
    write_run(sweep, "rl__bptt__T4__s0__memory-length8", "bptt", 4, 0, 8, 1.0)
    results = tmp_path / "rl.json"
    old = {
        "env": "dni_rnn/MemoryChain-v0",
        "lag": 64,
        "method": "dni_aux",
        "horizon": 1,
        "seed": 0,
        "budget_samples": 1,
        "run": "a",
    }
    other = {
        "env": "dni_rnn/RepeatPreviousEasy-v0",
        "lag": 3,
        "method": "dni",
        "horizon": 8,
        "seed": 0,
        "budget_samples": 1,
        "run": "b",
    }
    results.write_text(
        json.dumps([old | {"metric": "success_rate", "value": 0.5}, other | {"metric": "return", "value": 0.9}])
    )
    args = ["--sweep", str(sweep), "--results", str(results), "--figure", str(tmp_path / "f.png")]
    report_rl.main(args + ["--replace-env", "dni_rnn/MemoryChain-v0"])
    records = json.loads(results.read_text())
    assert {(r["env"], r["method"]) for r in records} == {
        ("dni_rnn/MemoryChain-v0", "bptt"),
        ("dni_rnn/RepeatPreviousEasy-v0", "dni"),
    }


def test_every_row_of_a_large_screening_gets_a_line_style():
    from scripts.figures_rl import method_styles
    from scripts.records import EXTRA_COLORS

    variants = [f"dni (v{i})" for i in range(4 * len(EXTRA_COLORS) + 1)]  # more than the old 4 rounds of colours
    styles = method_styles(["bptt", "dni", *variants])
    assert styles["dni"][1] == "-" and all(styles[v][1] != "-" for v in variants)
    assert len({styles[v] for v in variants[: 3 * len(EXTRA_COLORS)]}) == 3 * len(EXTRA_COLORS)


def test_a_runs_budget_is_its_own_not_the_latest_manifests(tmp_path):
    sweep = tmp_path / "rl_rp_medium"
    sweep.mkdir()
    (sweep / "sweep.json").write_text(json.dumps({"budget_samples": 5120}))  # the latest invocation's budget
    for seed, steps in ((0, 16), (1, 20)):  # an older run of 16 x 256 and a newer one of 20 x 256
        write_run(sweep, f"rl__dni__T8__s{seed}", "dni", 8, seed, 16, 1.0)
        config = {"train": {"steps": steps, "batch_size": 256}, "engine": {}, "task": {}}
        (sweep / f"rl__dni__T8__s{seed}" / "config.json").write_text(json.dumps(config))
    write_run(sweep, "rl__dni__T8__s2", "dni", 8, 2, 16, 1.0)  # no config.json: the manifest's budget
    records, _ = report_rl.read_sweep(sweep)
    budgets = {r["seed"]: r["budget_samples"] for r in records if r["metric"] == "success_rate"}
    assert budgets == {0: 4096, 1: 5120, 2: 5120}
