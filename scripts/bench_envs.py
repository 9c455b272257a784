"""Throughput of the torch-native environments alone, in environment steps per second.

Each environment is built through ``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")``,
reset, warmed up, then stepped ``steps`` times with random actions drawn on its device; a step of
``B`` environments counts ``B`` environment steps. One JSON record per (env, num_envs) is printed:
``{"env": ..., "num_envs": ..., "steps_per_second": ...}`` (plus the device and thread count).

    python scripts/bench_envs.py                       # MemoryChain and RepeatPreviousMedium, 64 and 4096 envs
    python scripts/bench_envs.py --envs dni_rnn/PositionOnlyCartPole-v0 --num-envs 4096 --threads 2

On a CPU one intra-op thread is the default: with a few thousand elements per operation, splitting
work across threads costs more than it saves.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import gymnasium
import torch

import dni_rnn_tasks.rl.envs  # noqa: F401  (registers the dni_rnn/... ids)
from dni_rnn.train_config import resolve_device


@dataclasses.dataclass
class BenchConfig:
    envs: tuple[str, ...] = ("dni_rnn/MemoryChain-v0", "dni_rnn/RepeatPreviousMedium-v0")
    """gymnasium ids of the environments to time."""
    num_envs: tuple[int, ...] = (64, 4096)
    """batch sizes to time."""
    steps: int = 3000
    """timed calls of step() per measurement."""
    warmup: int = 300
    """untimed calls of step() first."""
    device: str = "auto"
    """"auto" picks CUDA when present, else CPU."""
    threads: int = 1
    """torch.set_num_threads on a CPU."""
    seed: int = 0
    """reset seed (and seed of the action generator)."""


def bench(env_id: str, num_envs: int, config: BenchConfig, device: torch.device) -> float:
    """Environment steps per second of ``env_id`` with ``num_envs`` environments on ``device``."""
    env = gymnasium.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", device=device)
    num_actions = int(env.single_action_space.n)
    action_generator = torch.Generator(device=device)
    action_generator.manual_seed(config.seed)
    with torch.inference_mode():
        env.reset(seed=config.seed)

        def run(steps: int) -> None:
            for _ in range(steps):
                actions = torch.randint(num_actions, (num_envs,), generator=action_generator, device=device)
                env.step(actions)

        run(config.warmup)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        run(config.steps)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        elapsed = time.perf_counter() - start
    return config.steps * num_envs / elapsed


def main(argv: list[str] | None = None) -> None:
    defaults = BenchConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=list(defaults.envs))
    parser.add_argument("--num-envs", nargs="+", type=int, default=list(defaults.num_envs))
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--warmup", type=int, default=defaults.warmup)
    parser.add_argument("--device", default=defaults.device)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args(argv)
    config = BenchConfig(
        envs=tuple(args.envs),
        num_envs=tuple(args.num_envs),
        steps=args.steps,
        warmup=args.warmup,
        device=args.device,
        threads=args.threads,
        seed=args.seed,
    )
    device = resolve_device(config.device)
    if device.type == "cpu":
        torch.set_num_threads(config.threads)
    for env_id in config.envs:
        for num_envs in config.num_envs:
            steps_per_second = bench(env_id, num_envs, config, device)
            record = {
                "env": env_id,
                "num_envs": num_envs,
                "steps_per_second": round(steps_per_second),
                "device": str(device),
                "threads": torch.get_num_threads(),
            }
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
