"""The HParams table and the custom-scalars layout, read back with TensorBoard's own backend."""

import pytest
from tensorboard import context
from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins import base_plugin
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.plugins.custom_scalar import metadata as custom_scalars_metadata
from tensorboard.plugins.hparams import api_pb2, backend_context, list_session_groups

from dni_rnn.cli import main
from dni_rnn.tensorboard_hparams import custom_scalars_layout, hparam_value

TINY = ["--steps", "24", "--batch-size", "4", "--hidden", "8", "--log-every", "2", "--no-progress"]


def session_groups(logdir):
    """What the HParams dashboard shows for ``tensorboard --logdir logdir``: (experiment, session groups)."""
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(logdir))
    backend = backend_context.Context(
        base_plugin.TBContext(logdir=str(logdir), multiplexer=multiplexer, data_provider=provider)
    )
    request_context = context.RequestContext()
    content = backend.hparams_metadata(request_context, "")
    experiment = backend.experiment_from_metadata(
        request_context, "", True, content, backend.hparams_from_data_provider(request_context, "", 1000)
    )
    statuses = [api_pb2.STATUS_UNKNOWN, api_pb2.STATUS_SUCCESS, api_pb2.STATUS_FAILURE, api_pb2.STATUS_RUNNING]
    request = api_pb2.ListSessionGroupsRequest(start_index=0, slice_size=100, allowed_statuses=statuses)
    groups = list_session_groups.Handler(request_context, backend, "", request).run().session_groups
    return experiment, {group.name: group for group in groups}


def plain(value):
    return value.string_value if value.HasField("string_value") else value.number_value


def test_a_sweep_reads_back_as_one_hparams_table(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    runs = {"copy__dni__T3__s0": ("copy", "dni", 3), "copy__bptt__T2__s0": ("copy", "bptt", 2)}
    runs["repeat_copy__dni__T3__s0"] = ("repeat_copy", "dni", 3)
    for name, (task, method, horizon) in runs.items():
        args = [
            "train",
            task,
            "--method",
            method,
            "--horizon",
            str(horizon),
            "--logdir",
            str(sweep),
            "--run-name",
            name,
        ]
        assert main([*args, *TINY]) == 0
    capsys.readouterr()
    experiment, groups = session_groups(sweep)
    columns = {info.name for info in experiment.hparam_infos}
    assert {"engine.method", "train.horizon", "train.cell", "train.hidden", "engine.sg_lr", "task.bits"} <= columns
    assert "train.logdir" not in columns and "train.run_name" not in columns  # settings that change nothing
    metrics = {info.name.tag for info in experiment.metric_infos}
    assert {"hparams/max_length", "hparams/max_repeats", "hparams/samples", "hparams/wall_seconds"} <= metrics
    assert set(groups) == set(runs)
    for name, (task, method, horizon) in runs.items():
        group = groups[name]
        values = {key: plain(value) for key, value in group.hparams.items()}
        assert values["train.task"] == task and values["engine.method"] == method
        assert values["train.horizon"] == horizon
        assert values["engine.bootstrap_discount"] == "None"  # an unset option is a value of its own
        figures = {metric.name.tag: metric.value for metric in group.metric_values}
        windows = 24 // horizon
        assert figures["hparams/samples"] == windows * horizon * 4 and figures["hparams/max_length"] >= 1
        assert ("hparams/max_repeats" in figures) == (task == "repeat_copy")
        assert [session.status for session in group.sessions] == [api_pb2.STATUS_SUCCESS]


def test_each_run_writes_the_custom_scalars_layout(tmp_path, capsys):
    assert main(["train", "repeat_copy", "--logdir", str(tmp_path), "--run-name", "r", *TINY]) == 0
    capsys.readouterr()
    events = EventAccumulator(str(tmp_path / "r"))
    events.Reload()
    (point,) = events.Tensors(custom_scalars_metadata.CONFIG_SUMMARY_TAG)
    layout = layout_pb2.Layout()
    layout.ParseFromString(point.tensor_proto.string_val[0])
    charts = {category.title: [chart.title for chart in category.chart] for category in layout.category}
    assert charts["repeat_copy: key metrics, every run"] == [
        "charts/curriculum_length",
        "charts/curriculum_repeats",
        "charts/curriculum_loss",
    ]
    assert "charts/sg_cosine" in charts["dni_rnn: every run"]
    chart = layout.category[0].chart[0]
    assert list(chart.multiline.tag) == ["^charts/curriculum_length$"]  # every run's curve in one chart


def test_layout_and_values():
    layout = custom_scalars_layout("ptb", ("charts/bpc_valid",))
    assert layout["ptb: key metrics, every run"] == {"charts/bpc_valid": ["Multiline", ["^charts/bpc_valid$"]]}
    assert [hparam_value(v) for v in (3, 0.5, True, "dni", None, (64, 64))] == [3, 0.5, True, "dni", "None", "[64, 64]"]


@pytest.mark.parametrize("resumed", [False, True])
def test_a_resumed_run_keeps_one_session(tmp_path, capsys, resumed):
    args = ["train", "copy", "--logdir", str(tmp_path), "--run-name", "r", "--horizon", "3", *TINY[2:]]
    assert main([*args, "--steps", "12" if resumed else "24"]) == 0
    if resumed:
        assert main([*args, "--steps", "24", "--resume", "auto"]) == 0
    capsys.readouterr()
    _, groups = session_groups(tmp_path)
    (group,) = groups.values()
    figures = {metric.name.tag: metric.value for metric in group.metric_values}
    assert figures["hparams/samples"] == 24 * 4  # the last session end, at the resumed run's end
