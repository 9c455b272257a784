"""Data-parallel training with ``torch.distributed``: ``torchrun --nproc-per-node N -m dni_rnn train ...``.

Every rank builds the same task with the same seed, so every rank produces the same *global* window of
``B`` streams; rank ``r`` of ``W`` trains on the contiguous block of streams ``[r B/W, (r+1) B/W)``.
Gradients of the core, the readout, the aux head and M are averaged by ``DistributedDataParallel``.
Because every loss is a batch mean and M works in per-entry units, W ranks with ``B/W`` streams each
compute the same update as one process with ``B`` streams (up to float summation order). Window
metrics are averaged over ranks before the task sees them (so a curriculum decides alike everywhere);
rank 0 alone logs and writes checkpoints, which hold the *global* carried state.

Control decisions (stop on a signal, refuse a busy run directory) are agreed on by all ranks with
:func:`any_rank` over a CPU (gloo) group, so every rank takes the same branch at the same window.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import torch
import torch.distributed as dist
from torch import Tensor

from dni_rnn.engine import Window
from dni_rnn.state import State, map_state


class Topology(NamedTuple):
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


_CONTROL_GROUP: Any = None  # a gloo group for host-side decisions (the default group when it is gloo)
_OWN_GROUP = False  # whether init_from_env created the process group (then shutdown() destroys it)


def init_from_env(device: torch.device) -> Topology:
    """Join the process group torchrun describes in the environment (gloo on a CPU, nccl on a GPU)."""
    global _CONTROL_GROUP, _OWN_GROUP
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Topology()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        _OWN_GROUP = True
    if _CONTROL_GROUP is None:
        _CONTROL_GROUP = dist.new_group(backend="gloo") if dist.get_backend() != "gloo" else dist.group.WORLD
    return Topology(dist.get_rank(), dist.get_world_size())


def shutdown() -> None:
    """Destroy the process group :func:`init_from_env` created. Leaving it to the interpreter's exit lets a
    gloo thread outlive Python and abort the process ("terminate called without an active exception")."""
    global _CONTROL_GROUP, _OWN_GROUP
    if _OWN_GROUP and dist.is_initialized():
        dist.destroy_process_group()
    _CONTROL_GROUP, _OWN_GROUP = None, False


def any_rank(flag: bool, topology: Topology) -> bool:
    """True on every rank if ``flag`` is True on any rank (a collective on the CPU: every rank must call it)."""
    if not topology.distributed:
        return flag
    value = torch.tensor([int(flag)], dtype=torch.int32)
    dist.all_reduce(value, op=dist.ReduceOp.MAX, group=_CONTROL_GROUP)
    return bool(value.item())


def broadcast_object(value: Any, topology: Topology) -> Any:
    """Rank 0's ``value`` on every rank (a collective)."""
    if not topology.distributed:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0, group=_CONTROL_GROUP)
    return box[0]


def gather_objects(value: Any, topology: Topology) -> list[Any]:
    """Every rank's ``value``, in rank order, on every rank (a collective)."""
    if not topology.distributed:
        return [value]
    values: list[Any] = [None] * topology.world_size
    dist.all_gather_object(values, value, group=_CONTROL_GROUP)
    return values


def sum_over_ranks(tensor: Tensor) -> Tensor:
    """``tensor`` summed over the ranks of the process group, if there is one (a collective then)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        tensor = tensor.clone()
        dist.all_reduce(tensor)
    return tensor


def barrier(topology: Topology) -> None:
    """Wait until every rank arrives (e.g. until rank 0 has written a checkpoint)."""
    if topology.distributed:
        dist.barrier(group=_CONTROL_GROUP)


def local_device(device: torch.device) -> torch.device:
    """On a multi-GPU machine each rank takes the GPU of its LOCAL_RANK."""
    if device.type == "cuda" and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device


def _shard_tensor(tensor: Tensor, topology: Topology, batch_dim: int) -> Tensor:
    size = tensor.shape[batch_dim]
    if size % topology.world_size:
        raise ValueError(f"batch of {size} streams cannot be split evenly over {topology.world_size} processes")
    block = size // topology.world_size
    return tensor.narrow(batch_dim, topology.rank * block, block)


def _shard_any(value: Any, topology: Topology, batch_dim: int) -> Any:
    if isinstance(value, Tensor):
        return _shard_tensor(value, topology, batch_dim if value.dim() > batch_dim else 0)
    if isinstance(value, dict):
        return {key: _shard_any(item, topology, batch_dim) for key, item in value.items()}
    return value


def shard_window(window: Window, topology: Topology, batch_first: bool = False) -> Window:
    """This rank's streams of a global window: time-major ``[T, B, ...]`` on dim 1, ``[B, ...]`` on dim 0."""
    if not topology.distributed:
        return window
    steps_dim = 0 if batch_first else 1
    return Window(
        inputs=_shard_any(window.inputs, topology, steps_dim),
        targets=_shard_any(window.targets, topology, steps_dim),
        loss_mask=_shard_any(window.loss_mask, topology, steps_dim),
        resets=_shard_any(window.resets, topology, steps_dim),
        next_resets=_shard_any(window.next_resets, topology, 0),
        context=_shard_any(window.context, topology, 0),
        next_context=_shard_any(window.next_context, topology, 0),
    )


def shard_state(state: State, topology: Topology) -> State:
    """This rank's part of a global state ``[layers, B, H]``."""
    return map_state(lambda t: _shard_tensor(t, topology, 1).clone(), state) if topology.distributed else state


def gather_state(state: State, topology: Topology) -> State:
    """The global state from every rank's part (a collective: every rank must call it)."""
    if not topology.distributed:
        return state

    def gather(local: Tensor) -> Tensor:
        parts = [torch.empty_like(local) for _ in range(topology.world_size)]
        dist.all_gather(parts, local.contiguous())
        return torch.cat(parts, dim=1)

    return map_state(gather, state)


def average_metrics(metrics: dict[str, Any], topology: Topology) -> dict[str, Any]:
    """Window metrics averaged over ranks, in one all-reduce (every rank has the same keys); a value that is a
    dict of tensors (a head's private bookkeeping, :data:`dni_rnn.head.PRIVATE`) is averaged entry by entry."""
    if not topology.distributed or not metrics:
        return metrics
    flat = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            flat.update({(key, name): item for name, item in value.items()})
        else:
            flat[(key, "")] = value
    keys = sorted(flat)
    stacked = torch.stack([flat[key].detach().float().reshape(()) for key in keys])
    dist.all_reduce(stacked)
    stacked /= topology.world_size
    out: dict[str, Any] = {}
    for (key, name), value in zip(keys, stacked.unbind()):
        if name:
            out.setdefault(key, {})[name] = value
        else:
            out[key] = value
    return out
