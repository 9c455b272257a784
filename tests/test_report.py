"""scripts/report.py on a tiny hand-made sweep: TensorBoard events + summary.json written here."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from torch.utils.tensorboard import SummaryWriter

from scripts import report

BUDGET = 6400
# Final curriculum length per (task, method, T, seed); the curve climbs 1, 2, ... up to it.
FINAL_LENGTH = {
    ("copy", "bptt", 2, 0): 3,
    ("copy", "bptt", 2, 1): 5,
    ("copy", "bptt", 4, 0): 4,
    ("copy", "bptt", 4, 1): 4,
    ("copy", "dni", 2, 0): 6,
    ("copy", "dni", 2, 1): 8,
    ("copy", "dni", 4, 0): 7,
    ("copy", "dni", 4, 1): 9,
    ("repeat_copy", "bptt", 2, 0): 2,
    ("repeat_copy", "bptt", 2, 1): 3,
    ("repeat_copy", "bptt", 4, 0): 3,
    ("repeat_copy", "bptt", 4, 1): 3,
    ("repeat_copy", "dni", 2, 0): 4,
    ("repeat_copy", "dni", 2, 1): 5,
    ("repeat_copy", "dni", 4, 0): 5,
    ("repeat_copy", "dni", 4, 1): 6,
}
# PTB valid BPC curves (characters, BPC): hand-made so chars_to_bptt40 is known.
PTB_CURVES = {
    ("bptt", 40, 0): [(1000, 2.5), (2000, 1.7), (3000, 1.5), (4000, 1.344)],
    ("bptt", 40, 1): [(1000, 2.4), (2000, 1.8), (3000, 1.6), (4000, 1.456)],
    ("dni", 8, 0): [(1000, 2.0), (2000, 1.4), (3000, 1.3), (4000, 1.25)],  # reaches 1.344 at 3000
    ("dni", 8, 1): [(1000, 1.9), (2000, 1.456), (3000, 1.44), (4000, 1.43)],  # reaches 1.456 at 2000
    ("dni", 8, 2): [(1000, 2.2), (2000, 1.5), (3000, 1.41), (4000, 1.401)],  # no bptt T=40 seed 2: mean 1.4 never
}


def run_dir(sweep: Path, task, method, horizon, seed) -> Path:
    return sweep / f"{task}__{method}__T{horizon}__s{seed}"


def write_run(path: Path, scalars: dict, summary: dict | None):
    writer = SummaryWriter(str(path))
    for tag, points in scalars.items():
        for step, value in points:
            writer.add_scalar(tag, value, step)
    writer.close()
    if summary is not None:
        (path / "summary.json").write_text(json.dumps(summary))


def make_sweep(root: Path, name: str = "fake") -> Path:
    sweep = root / "logs" / name
    sweep.mkdir(parents=True)
    (sweep / "sweep.json").write_text(
        json.dumps(
            {
                "name": name,
                "tasks": ["copy", "repeat_copy"],
                "methods": ["bptt", "dni"],
                "horizons": [2, 4],
                "seeds": [0, 1],
                "budget_samples": BUDGET,
                "batch_size": 64,
                "extra": [],
            }
        )
    )
    for (task, method, horizon, seed), final in FINAL_LENGTH.items():
        lengths = [(BUDGET * i // final + 64, float(i + 1)) for i in range(final)] + [(BUDGET, float(final))]
        scalars = {"charts/curriculum_length": lengths, "losses/task": [(BUDGET, 0.5)]}
        summary = {
            "task": task,
            "method": method,
            "horizon": horizon,
            "seed": seed,
            "samples": BUDGET,
            "wall_seconds": 10.0 + seed,
            "max_length": float(final),
        }
        if task == "repeat_copy":
            scalars["charts/curriculum_repeats"] = [(s, max(1.0, v - 1)) for s, v in lengths]
            summary["max_repeats"] = float(max(1, final - 1))
        if method == "dni":
            scalars["charts/sg_cosine"] = [(s, 0.1 * i) for i, s in enumerate(range(1000, BUDGET + 1, 1000))]
        write_run(run_dir(sweep, task, method, horizon, seed), scalars, summary)
    for (method, horizon, seed), points in PTB_CURVES.items():
        write_run(
            run_dir(sweep, "ptb", method, horizon, seed),
            {"charts/bpc_valid": points},
            {
                "task": "ptb",
                "method": method,
                "horizon": horizon,
                "seed": seed,
                "samples": 4000,
                "wall_seconds": 5.0,
                "charts/bpc_valid": points[-1][1],
                "charts/bpc_test": points[-1][1] - 0.01,
                "best_charts/bpc_valid": points[-1][1],
                "bpc_valid": points[-1][1],
                "bpc_test": points[-1][1] - 0.01,
            },
        )
    # An unfinished run: events, no summary.
    write_run(run_dir(sweep, "copy", "dni", 8, 0), {"charts/curriculum_length": [(100, 1.0)]}, None)
    return sweep


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    sweep = make_sweep(root)
    results = root / "results"
    results.mkdir()
    # A results file from before: a record of another sweep (kept), a stale one of this sweep (dropped)
    # one with the key of a new record (replaced) and one at a larger budget (kept: never replaced silently).
    other = {
        "task": "copy",
        "method": "bptt",
        "horizon": 8,
        "seed": 0,
        "budget_samples": 1,
        "metric": "max_length",
        "value": 2.0,
        "samples": 1,
        "wall_seconds": 1.0,
        "run": str(root / "logs" / "other" / "x"),
    }
    stale = {**other, "horizon": 3, "run": str(sweep / "copy__bptt__T3__s0")}
    clash = {**other, "horizon": 2, "value": 99.0, "budget_samples": BUDGET}
    larger = {**other, "horizon": 2, "value": 77.0, "budget_samples": 10 * BUDGET}
    (results / "copy.json").write_text(json.dumps([other, stale, clash, larger]))
    out = report.write_report([sweep], results, root / "figures", root / "docs" / "results_fake.md")
    return root, sweep, out


def by_key(records):
    return {(r["task"], r["method"], r["horizon"], r["seed"], r["metric"]): r for r in records}


def by_budget_key(records):
    return {(r["task"], r["method"], r["horizon"], r["seed"], r["metric"], r["budget_samples"]): r for r in records}


def test_records_shape_and_values(built):
    root, sweep, out = built
    records = out["records"]
    keys = ["task", "method", "horizon", "seed", "budget_samples", "metric", "value", "samples", "wall_seconds", "run"]
    assert all(list(r) == keys for r in records)
    assert records == report.sort_records(records)
    table = by_key(records)
    for (task, method, horizon, seed), final in FINAL_LENGTH.items():
        record = table[(task, method, horizon, seed, "max_length")]
        assert record["value"] == final and record["budget_samples"] == BUDGET and record["samples"] == BUDGET
        assert Path(record["run"]).resolve() == run_dir(sweep, task, method, horizon, seed).resolve()
        assert ((task, method, horizon, seed, "max_repeats") in table) == (task == "repeat_copy")
    assert not any(r["horizon"] == 8 and r["task"] == "copy" for r in records)  # the unfinished run
    assert len([r for r in records if r["task"] != "ptb"]) == 8 + 16
    assert report.collect([sweep]) == records


def test_chars_to_bptt40(built):
    table = by_key(built[2]["records"])
    chars = {k[:4]: r["value"] for k, r in table.items() if k[4] == "chars_to_bptt40"}
    # Own seed's BPTT T=40 final (1.344 and 1.456, compared at float32 precision); seed 2 has none, so the
    # mean 1.4 applies, which its curve (ending at 1.401) never reaches: no record.
    assert chars == {
        ("ptb", "bptt", 40, 0): 4000,
        ("ptb", "bptt", 40, 1): 4000,
        ("ptb", "dni", 8, 0): 3000,
        ("ptb", "dni", 8, 1): 2000,
    }
    assert table[("ptb", "dni", 8, 0, "bpc_valid")]["value"] == 1.25
    assert math.isclose(table[("ptb", "dni", 8, 0, "bpc_test")]["value"], 1.24)


def test_first_reach_uses_the_mean_target_when_the_seed_is_missing():
    curve = (np.array([10, 20, 30]), np.array([1.5, 1.39, 1.3]))
    assert report.first_reach(curve, 1.4) == 20
    assert report.first_reach(curve, 1.2) is None


def test_results_files_merge(built):
    root, sweep, out = built
    copy = json.loads((root / "results" / "copy.json").read_text())
    table = by_budget_key(copy)
    assert table[("copy", "bptt", 8, 0, "max_length", 1)]["value"] == 2.0  # other sweep: kept
    assert ("copy", "bptt", 3, 0, "max_length", 1) not in table  # stale, this sweep: dropped
    assert table[("copy", "bptt", 2, 0, "max_length", BUDGET)]["value"] == 3.0  # same key: replaced
    assert table[("copy", "bptt", 2, 0, "max_length", 10 * BUDGET)]["value"] == 77.0  # larger budget: kept
    assert len(copy) == 8 + 2
    assert {p.name for p in out["results"]} == {"copy.json", "repeat_copy.json", "ptb.json"}
    # Reporting again changes nothing.
    report.write_report([sweep], root / "results", root / "figures", root / "docs" / "results_fake.md")
    assert json.loads((root / "results" / "copy.json").read_text()) == copy


def test_markdown(built):
    root, sweep, out = built
    text = out["markdown"]
    assert text == (root / "docs" / "results_fake.md").read_text()
    assert "4.0 ± 1.4 (2)" in text  # copy bptt T=2: lengths 3 and 5
    assert "8.0 ± 1.4 (2)" in text  # copy dni T=4: 7 and 9
    assert "| Copy | largest length N (paper) | 7 | 8 | 10 | 8 |" in text
    assert "| 1.75x | – | 2.00x |" in text  # copy dni/bptt: 7 / 4 at T=2, 8 / 4 at T=4
    assert "1.360 ± 0.097 (3)" in text  # ptb dni T=8 valid: 1.25, 1.43, 1.401
    assert "2.50k ± 0.71k (2/3)" in text  # its chars_to_bptt40: 3000, 2000, none
    assert "1.354" in text and "~2.3x" in text
    assert "6,400" in text
    assert "unfinished: `" in text and "copy__dni__T8__s0" in text
    assert "![copy_curriculum](" in text


def test_figures(built):
    root, sweep, out = built
    names = {p.name for p in out["figures"]}
    assert {
        "copy_curriculum.png",
        "copy_final_vs_T.png",
        "copy_sg_cosine.png",
        "repeat_copy_curriculum.png",
        "repeat_copy_final_vs_T.png",
        "repeat_copy_sg_cosine.png",
        "ptb_bpc_valid.png",
    } <= names
    assert "ptb_sg_cosine.png" not in names  # no probe tag in the PTB runs
    for path in out["figures"]:
        assert path.is_file() and path.stat().st_size > 1000


def test_cli(built, tmp_path, capsys):
    root, sweep, _ = built
    code = report.main(
        [
            "--sweep",
            str(sweep),
            "--results",
            str(tmp_path / "r"),
            "--figures",
            str(tmp_path / "f"),
            "--markdown",
            str(tmp_path / "page.md"),
        ]
    )
    assert code == 0
    assert "| Copy | largest length N (ours) |" in capsys.readouterr().out
    assert (tmp_path / "r" / "ptb.json").is_file() and (tmp_path / "page.md").is_file()
    assert report.main(["--sweep", str(tmp_path / "nope")]) == 2


def test_mean_curve_step_and_linear():
    a = (np.array([0, 10]), np.array([1.0, 3.0]))
    b = (np.array([0, 20]), np.array([2.0, 4.0]))
    grid, mean = report.mean_curve([a, b], "step", points=3)
    assert list(grid) == [0, 10, 20] and list(mean) == [1.5, 2.5, 4.0]
    grid, mean = report.mean_curve([a, b], "linear", points=3)
    assert list(mean) == [1.5, (3.0 + 3.0) / 2, 4.0]


def test_default_outputs_stay_in_the_sweep_folder(built, monkeypatch):
    """A report without output flags writes under <sweep>/report/, never into the repository's results/ or docs/."""
    root, sweep, _ = built
    monkeypatch.chdir(root)
    out = report.write_report([sweep])
    assert out["markdown_path"] == sweep / "report" / "results.md"
    assert all(Path(p).is_relative_to(sweep / "report") for p in [*out["results"], *out["figures"]])


def test_variant_runs_are_columns_of_their_own(tmp_path):
    """Runs named ...__s<seed>__<variant> (sweep --variant) are reported as method:variant, not merged."""
    from scripts.records import apply_variants
    from scripts.runs import load_sweep

    for variant in ("default", "best"):
        run = tmp_path / f"copy__dni__T3__s0__{variant}"
        run.mkdir()
        (run / "summary.json").write_text(
            json.dumps(
                {
                    "task": "copy",
                    "method": "dni",
                    "horizon": 3,
                    "seed": 0,
                    "max_length": 4.0 if variant == "default" else 6.0,
                }
            )
        )
    sweep = load_sweep(tmp_path)
    apply_variants([sweep])
    assert sorted(r.method for r in sweep.runs) == ["dni:best", "dni:default"]


def test_sweep_row_lists_the_seeds_of_its_runs_not_only_the_latest_grid(tmp_path):
    """A sweep filled by two invocations (seed 0, then seed 1): sweep.json holds the second's grid only."""
    from scripts.records import apply_variants
    from scripts.runs import load_sweep
    from scripts.tables import sweeps_section

    manifest = {"tasks": ["copy"], "methods": ["dni"], "horizons": [2], "seeds": [1], "budget_samples": 64}
    (tmp_path / "sweep.json").write_text(json.dumps(manifest))
    for seed in (0, 1):
        run = tmp_path / f"copy__dni__T2__s{seed}__best"  # a variant run: reported under its method, dni
        run.mkdir()
        summary = {"task": "copy", "method": "dni", "horizon": 2, "seed": seed, "samples": 64, "wall_seconds": 1.0}
        (run / "summary.json").write_text(json.dumps(summary))
    sweep = load_sweep(tmp_path)
    apply_variants([sweep])
    row = next(line for line in sweeps_section([sweep], sweep.runs).splitlines() if line.startswith("| `"))
    assert "| copy | dni | 2 | 0, 1 | 64 |" in row
    assert "| 2 / 2 |" in row
