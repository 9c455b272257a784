"""scripts/report_branches: N and the curriculum loss's drift over branches of one parent."""

import json

from torch.utils.tensorboard import SummaryWriter

from scripts import report_branches


def fake_branch(sweep, name, start, lengths, losses):
    run_dir = sweep / name
    writer = SummaryWriter(str(run_dir))
    for index, (length, loss) in enumerate(zip(lengths, losses)):
        writer.add_scalar("charts/curriculum_length", length, start + index * 100)
        writer.add_scalar("charts/curriculum_loss", loss, start + index * 100)
    writer.close()
    (run_dir / "summary.json").write_text(json.dumps({}))


def test_branches_are_compared_over_seeds(tmp_path, capsys):
    sweep = tmp_path / "plateau"
    fake_branch(sweep, "copy__dni__T2__s0__on", 1000, [4] * 8, [0.3, 0.3, 0.4, 0.4, 0.4, 0.4, 0.5, 0.5])
    fake_branch(sweep, "copy__dni__T2__s1__on", 1000, [4] * 8, [0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3])
    fake_branch(sweep, "copy__dni__T2__s0__off", 1000, [4, 4, 4, 4, 4, 4, 5, 5], [0.3] * 4 + [0.2] * 4)
    fake_branch(sweep, "copy__dni__T2__s0__parent", 0, [1, 2], [0.9, 0.1])  # not a branch asked for
    out = tmp_path / "table.md"
    assert report_branches.main([str(sweep), "--variants", "on", "off", "--markdown", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert out.read_text().splitlines() == lines and len(lines) == 4  # header, rule, on, off: parent left out
    on, off = lines[2], lines[3]
    assert "| on | 2 | 0.00M-0.00M | 4.0 ± 0.0 | 4.0 ± 0.0 | 0.300 ± 0.000 | 0.400 ± 0.141 | 0.100 ± 0.141 |" in on
    assert "| off | 1 |" in off and "| 4.0 ± 0.0 | 5.0 ± 0.0 | 0.300 ± 0.000 | 0.200 ± 0.000 | -0.100 ± 0.000 |" in off


def test_no_branch_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert report_branches.main([str(tmp_path / "empty"), "--variants", "on"]) == 2
    assert "no finished branch" in capsys.readouterr().err
