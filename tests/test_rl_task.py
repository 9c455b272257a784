"""Streaming RL task: windows and the pseudo-step, on-policy forward, checkpoints, CLI runs, learning."""

import json

import pytest
import torch
from helpers import reference_contexts, reference_package
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dni_rnn.checkpoint import load_checkpoint
from dni_rnn.cli import main
from dni_rnn.engine import EngineConfig, WindowEngine
from dni_rnn.task import Actor
from dni_rnn.training import TrainConfig, train
from dni_rnn_tasks.rl import RLOptions, RLTask


def make(horizon=5, batch=3, method="bptt", hidden=8, cell="lstm", **options):
    options.setdefault("memory_length", 2)
    train_cfg = TrainConfig(task="rl", horizon=horizon, batch_size=batch, steps=1000, hidden=hidden, cell=cell)
    task = RLTask(RLOptions(**options), train_cfg, torch.device("cpu"))
    core = task.build_core()
    head = task.build_head(core.output_size)
    engine = WindowEngine(core, head, EngineConfig(method=method), context_size=task.context_size)
    return task, engine


class Acting:
    """What one acting pass saw, recorded from outside the task: the env's rewards, terminations and
    truncations ``[T, B]`` and the value head's ``values [T, B]`` and ``bootstrap [B]``."""

    def __init__(self, task, engine):
        self.steps, self.values = [], []
        env_step, heads = task.envs.step, engine.head.predict

        def step(actions):
            out = env_step(actions)
            self.steps.append(out[1:4])
            return out

        def recording_heads(outputs):
            logits, values = heads(outputs)
            self.values.append(values.squeeze(0))  # acting runs one step at a time: [1, B]
            return logits, values

        task.envs.step = step
        engine.head.predict = recording_heads

    def next_window(self, task, engine, state):
        """``task.next_window`` plus ``{"rewards", "terminated", "truncated", "values", "bootstrap"}``."""
        self.steps.clear()
        self.values.clear()
        window, state = task.next_window(Actor(engine.core, engine.head), state)
        rewards, terminated, truncated = (torch.stack(x) for x in zip(*self.steps))
        seen = {
            "rewards": rewards,
            "terminated": terminated,
            "truncated": truncated,
            "values": torch.stack(self.values[:-1]),
            "bootstrap": self.values[-1],
        }
        return window, state, seen


def stream(task, engine, windows):
    """``windows`` windows, and what the acting pass saw in each."""
    acting = Acting(task, engine)
    state = engine.initial_state(task.batch)
    out, seen = [], []
    for _ in range(windows):
        window, state, saw = acting.next_window(task, engine, state)
        out.append(window)
        seen.append(saw)
        state = task.acting_state
    return out, seen


def test_window_shapes_resets_and_pseudo_steps():
    task, engine = make(horizon=5, batch=3)  # MemoryChain, lag 2: 3 steps per episode, then a pseudo-step
    windows, seen = stream(task, engine, 6)
    w, s = windows[0], seen[0]
    assert w.inputs.shape == (5, 3, 3 + 2 + 1)  # obs (time, query, context) + one-hot previous action + reward
    assert set(w.targets) == {"actions", "valid", "returns", "advantages"}  # what the loss reads
    for key in ("actions", "valid", "returns", "advantages"):
        assert w.targets[key].shape == (5, 3), key
    for key in ("rewards", "terminated", "truncated", "values"):
        assert s[key].shape == (5, 3), key
    assert s["bootstrap"].shape == (3,) and w.resets.shape == (5, 3) and w.next_resets.shape == (3,)
    # all episodes start together: steps 0, 1, 2 (decision, terminated), 3 = pseudo-step, 4 = first step...
    assert w.resets[:, 0].tolist() == [True, False, False, False, True]
    assert w.targets["valid"][:, 0].tolist() == [True, True, True, False, True]
    assert s["terminated"][:, 0].tolist() == [False, False, True, False, False]

    cat = {key: torch.cat([x[key] for x in seen]) for key in ("terminated", "truncated", "rewards")}
    cat["valid"] = torch.cat([x.targets["valid"] for x in windows])
    resets = torch.cat([x.resets for x in windows])
    inputs = torch.cat([x.inputs for x in windows])
    pseudo, done = ~cat["valid"], cat["terminated"] | cat["truncated"]
    assert torch.equal(pseudo[1:], done[:-1]) and not pseudo[0].any()  # the step after a done step only resets
    assert torch.equal(resets[1:], pseudo[:-1]) and resets[0].all()  # reset before the step after it
    assert cat["rewards"][pseudo].eq(0).all() and not done[pseudo].any()
    assert inputs[resets][:, 3:].eq(0).all()  # no previous action/reward on an episode's first step
    assert inputs[~resets][:, 3:5].sum(-1).eq(1).all()  # one-hot previous action elsewhere
    for this, following in zip(windows[:-1], windows[1:]):  # next step is a pseudo-step or an episode's first
        assert torch.equal(this.next_resets, following.resets[0] | ~following.targets["valid"][0])
    assert any(x.next_resets.any() for x in windows) and not all(x.next_resets.all() for x in windows)


def test_pseudo_steps_are_masked_out_of_every_loss_term():
    task, engine = make(horizon=5, batch=3)
    window = stream(task, engine, 1)[0][0]
    pseudo = ~window.targets["valid"]
    assert pseudo.any()
    outputs = torch.randn(5, 3, 8, requires_grad=True)
    loss, metrics = engine.head.loss(outputs, window)
    (grad,) = torch.autograd.grad(loss, outputs)
    assert grad[pseudo].eq(0).all() and grad[~pseudo].abs().sum() > 0
    scrambled = {**window.targets}
    for key in ("returns", "advantages"):
        scrambled[key] = torch.where(pseudo, torch.full_like(window.targets[key], 1e3), window.targets[key])
    scrambled["actions"] = torch.where(pseudo, 1 - window.targets["actions"], window.targets["actions"])
    loss2, metrics2 = engine.head.loss(outputs, window._replace(targets=scrambled))
    assert torch.equal(loss, loss2)
    assert set(metrics) == {"losses/policy", "losses/value", "losses/entropy"}
    assert all(not m.requires_grad for m in metrics.values())


@pytest.mark.parametrize("method,cell", [("bptt", "lstm"), ("dni", "lstm"), ("bptt", "rtu")])
def test_acting_forward_equals_the_training_forward(method, cell):
    task, engine = make(horizon=5, batch=3, method=method, hidden=8, cell=cell)
    acting = Acting(task, engine)
    state = engine.initial_state(3)
    window, state, _ = acting.next_window(task, engine, state)
    state, _ = engine.step(window, state)  # move the weights and the carried state off their start
    start = state
    window, state, seen = acting.next_window(task, engine, state)
    assert window.resets[1:].any() and not window.resets[0].all()  # a reset in the middle, a carried start
    assert state is start  # the carried state is handed back unchanged
    outputs, final = engine.core(window.inputs, start, window.resets)
    logits, values = engine.head.predict(outputs)
    assert torch.allclose(values, seen["values"], atol=1e-12)
    for a, b in zip(final, task.acting_state):
        assert torch.allclose(a, b, atol=1e-12)
    carried, _ = engine.step(window, start)
    for a, b in zip(carried, task.acting_state):
        assert torch.allclose(a, b, atol=1e-12)


def tags(run_dir):
    accumulator = EventAccumulator(str(run_dir))
    accumulator.Reload()
    return accumulator.Tags()["scalars"]


TINY = ["--horizon", "4", "--batch-size", "8", "--hidden", "16", "--log-every", "2", "--no-progress"]


@pytest.mark.parametrize("method", ["bptt", "dni"])
def test_cli_run_writes_episode_charts(tmp_path, capsys, method):
    code = main(
        [
            "train",
            "rl",
            "--method",
            method,
            "--memory-length",
            "3",
            "--steps",
            "40",
            "--logdir",
            str(tmp_path),
            "--run-name",
            "run",
            *TINY,
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["lag"] == 3 and summary["env"] == "dni_rnn/MemoryChain-v0" and 0 <= summary["success_rate"] <= 1
    scalars = tags(tmp_path / "run")
    for tag in (
        "charts/episodic_return",
        "charts/episodic_length",
        "charts/success_rate",
        "losses/value",
        "losses/policy",
        "losses/entropy",
    ):
        assert tag in scalars, tag


def test_eval_reports_mean_return_and_success_over_k_episodes(tmp_path, capsys):
    args = ["train", "rl", "--memory-length", "2", "--steps", "16", "--logdir", str(tmp_path), "--run-name", "r"]
    assert main([*args, *TINY]) == 0
    capsys.readouterr()
    checkpoint = str(tmp_path / "r" / "checkpoint.pt")
    assert main(["eval", "rl", "--checkpoint", checkpoint, "--episodes", "20", "--seed", "1"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["episodes"] >= 20 and result["env"] == "dni_rnn/MemoryChain-v0"
    assert 0 <= result["success_rate"] <= 1 and -1 <= result["return"] <= 1 and result["episode_length"] == 3
    assert "success_rate: " in captured.err and "episodes: " in captured.err
    assert main(["eval", "rl", "--checkpoint", checkpoint, "--episodes", "20", "--seed", "1"]) == 0
    assert json.loads(capsys.readouterr().out) == result  # the same seed, the same episodes


def test_popgym_env_through_the_adapter(tmp_path, capsys):
    reference_package("popgym")
    code = main(
        [
            "train",
            "rl",
            "--env",
            "popgym:popgym-RepeatPreviousEasy-v0",
            "--steps",
            "64",
            "--logdir",
            str(tmp_path),
            "--run-name",
            "pop",
            *TINY,
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["windows"] == 16 and summary["final_episodes"] >= 0
    assert "charts/episodic_return" in tags(tmp_path / "pop")  # 51-step episodes ended within the 64 steps


@pytest.mark.parametrize("extra", [[], ["--advantage-scale", "running", "--advantage-decay", "0.9"]])
def test_resume_is_bit_identical(tmp_path, capsys, extra):
    args = ["--method", "dni", "--memory-length", "3", "--seed", "2", *TINY, *extra]
    assert main(["train", "rl", "--logdir", str(tmp_path), "--run-name", "full", "--steps", "48", *args]) == 0
    assert main(["train", "rl", "--logdir", str(tmp_path), "--run-name", "half", "--steps", "24", *args]) == 0
    assert (
        main(
            ["train", "rl", "--logdir", str(tmp_path), "--run-name", "half", "--steps", "48", "--resume", "auto", *args]
        )
        == 0
    )
    full, half = (
        load_checkpoint(tmp_path / "full" / "checkpoint.pt"),
        load_checkpoint(tmp_path / "half" / "checkpoint.pt"),
    )
    for name, tensor in full["engine"].items():
        assert torch.equal(tensor, half["engine"][name]), name
    assert torch.equal(full["task"]["window_stats"], half["task"]["window_stats"])
    capsys.readouterr()


@pytest.mark.parametrize(
    "options,message",
    [
        ({"env": "dni_rnn/NoSuchEnv-v0"}, "unknown env id"),
        ({"env": "NoSuchEnvAnywhere-v9"}, "unknown env id"),
        ({"env": "popgym-RepeatPreviousEasy-v0"}, "--env popgym:popgym-RepeatPreviousEasy-v0"),
        ({"env": "no_such_module_anywhere:Nope-v0"}, "module 'no_such_module_anywhere' is not installed"),
        ({"memory_length": 0}, "memory-length must be >= 1"),
        ({"env": "dni_rnn/RepeatPreviousEasy-v0", "memory_length": 4}, "takes no argument memory_length"),
        ({"env_kwargs": "[1]"}, "JSON object"),
        ({"gamma": 1.5}, "gamma"),
        ({"reward_scale": 0.0}, "reward-scale"),
        ({"advantage_decay": 1.0}, "advantage-decay must be < 1"),
        ({"advantage_scale": "batch"}, "advantage"),
        ({"sg_policy_weight": 1.5}, "sg-policy-weight"),
    ],
)
def test_bad_input_is_one_line_value_error(options, message):
    with pytest.raises(ValueError, match=message) as error:
        make(**{"memory_length": None, **options})
    assert "\n" not in str(error.value)


def test_cli_bad_env_exits_with_one_line(tmp_path, capsys):
    code = main(["train", "rl", "--env", "dni_rnn/Nope-v0", "--steps", "8", "--logdir", str(tmp_path), *TINY])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "unknown env id" in err


def test_next_input_context_is_the_input_after_each_boundary():
    task, engine = make(horizon=3, batch=4, method="dni", memory_length=4, sg_context="next_input")
    assert task.context_size == task.input_size and engine.boundary.context_size == task.input_size
    windows, _ = stream(task, engine, 4)
    for window, following in zip(windows, windows[1:]):
        assert torch.equal(window.context, window.inputs[0])
        assert torch.equal(window.next_context, following.inputs[0])  # seen by the learner before M is asked
    state = engine.initial_state(4)
    for window in windows:
        state, _ = engine.step(window, state)  # M reads [s, x] at both ends of every window


def test_past_inputs_context_is_the_latest_inputs_of_each_episode():
    """past_inputs K: M at s_T reads the last K inputs of s_T's episode (zeros before its start), across windows."""
    task, engine = make(horizon=4, batch=4, method="dni", memory_length=4, sg_context="past_inputs", context_steps=5)
    assert task.context_size == 5 * task.input_size == engine.boundary.context_size
    windows, _ = stream(task, engine, 6)
    expected = reference_contexts([(w.inputs, w.resets) for w in windows], 5)
    assert not windows[0].context.any()
    for window, following, after in zip(windows, windows[1:], expected):
        torch.testing.assert_close(window.next_context, after, rtol=0, atol=0)
        assert torch.equal(following.context, window.next_context)
    assert any(w.resets[1:].any() for w in windows)  # cycles of 6 steps (with the reset step) cut windows of 4
    twin, _ = make(horizon=4, batch=4, method="dni", memory_length=4, sg_context="past_inputs", context_steps=5)
    twin.load_state_dict(task.state_dict())
    assert torch.equal(twin._lookback.flat(), task._lookback.flat())


def test_running_advantage_scale_divides_by_the_running_root_mean_square():
    """--advantage-scale running: the same acting pass (the policy does not learn here), the advantages divided
    by the root of the bias-corrected running mean of A^2 over valid steps; the state round-trips."""
    decay = 0.9
    plain, engine = make(horizon=4, batch=3, memory_length=3)
    scaled, _ = make(horizon=4, batch=3, memory_length=3, advantage_scale="running", advantage_decay=decay)
    unscaled = stream(plain, engine, 5)[0]
    windows = stream(scaled, engine, 5)[0]
    moment, scales = 0.0, []
    for k, (reference, window) in enumerate(zip(unscaled, windows), start=1):
        advantages, valid = reference.targets["advantages"], reference.targets["valid"]
        moment = decay * moment + (1 - decay) * (advantages.pow(2).sum() / valid.sum()).item()
        scale = (moment / (1 - decay**k)) ** 0.5
        scales.append(scale)
        torch.testing.assert_close(window.targets["advantages"], advantages / scale)
        assert torch.equal(window.targets["returns"], reference.targets["returns"])  # the value loss is unchanged
    assert max(abs(scale - 1) for scale in scales) > 0.1  # a scale of 1 would not tell the two apart
    twin, _ = make(horizon=4, batch=3, memory_length=3, advantage_scale="running", advantage_decay=decay)
    twin.load_state_dict(scaled.state_dict())
    assert torch.equal(twin._advantage_moment, scaled._advantage_moment) and twin._advantage_windows == 5


def learn_memory_chain(tmp_path, memory_length: int, **run) -> dict:
    """Train the RL task on MemoryChain in float32 with bptt; ``run``: TrainConfig fields. Returns the summary."""
    torch.set_default_dtype(torch.float32)
    train_cfg = TrainConfig(
        task="rl", batch_size=64, seed=0, progress=False, logdir=str(tmp_path), run_name="learn", log_every=1000, **run
    )
    return train(train_cfg, EngineConfig(method="bptt"), RLOptions(memory_length=memory_length))


def test_rtu_carries_memory_chain_across_window_boundaries(tmp_path):
    """Lag 8 at T = 2: the context and the decision are 4 windows apart, yet exact RTRL solves it."""
    summary = learn_memory_chain(tmp_path, 8, horizon=2, steps=3000, hidden=16, cell="rtu")
    assert summary["success_rate"] >= 0.9, summary


def test_bptt_learns_memory_chain_lag_2(tmp_path):
    summary = learn_memory_chain(tmp_path, 2, horizon=4, steps=1200, hidden=32)
    assert summary["success_rate"] >= 0.9, summary


def test_native_env_state_round_trips_through_the_task():
    task, engine = make(horizon=5, batch=3, memory_length=3)
    state = engine.initial_state(3)
    for _ in range(3):
        window, state = task.next_window(Actor(engine.core, engine.head), state)
        state = task.acting_state
    saved = task.state_dict()
    assert set(saved["env"]) == {"tensors", "autoreset_pending", "has_been_reset", "generator"}
    assert set(saved["episode_statistics"]) == {"episode_returns", "episode_lengths", "previous_done"}
    want, _ = task.next_window(Actor(engine.core, engine.head), state)
    restored, _ = make(horizon=5, batch=3, memory_length=3)
    restored.load_state_dict(saved)
    got, _ = restored.next_window(Actor(engine.core, engine.head), state)
    assert torch.equal(got.inputs, want.inputs) and torch.equal(got.resets, want.resets)
    for key in want.targets:
        assert torch.equal(got.targets[key], want.targets[key]), key
