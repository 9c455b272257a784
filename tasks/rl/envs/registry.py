"""The ``dni_rnn/...`` ids of the torch environments, registered with gymnasium.

Every id points gymnasium's ``vector_entry_point`` at the class's own module, so
``gymnasium.make_vec(id, num_envs=B, vectorization_mode="vector_entry_point", ...)`` builds the batch
directly. Importing :mod:`dni_rnn_tasks.rl.envs` registers them, which is what gymnasium's
``"module:EnvId"`` form does: ``gymnasium.make_vec("dni_rnn_tasks.rl.envs:dni_rnn/MemoryChain-v0", ...)``.
"""

from __future__ import annotations

from typing import Any

import gymnasium

from dni_rnn_tasks.rl.envs import card_games, cartpole, memory_chain

__all__ = ["ENV_IDS", "NAMESPACE", "register_envs"]

NAMESPACE = "dni_rnn/"


def _entries() -> dict[str, tuple[str, dict[str, Any]]]:
    """``id -> (vector entry point, kwargs)``, presets included."""
    cards = card_games.__name__
    entries: dict[str, tuple[str, dict[str, Any]]] = {
        "dni_rnn/MemoryChain-v0": (f"{memory_chain.__name__}:MemoryChain", {}),
        "dni_rnn/PositionOnlyCartPole-v0": (f"{cartpole.__name__}:PositionOnlyCartPole", {}),
        "dni_rnn/RepeatPrevious-v0": (f"{cards}:RepeatPrevious", {}),
        "dni_rnn/RepeatFirst-v0": (f"{cards}:RepeatFirst", {}),
        "dni_rnn/CountRecall-v0": (f"{cards}:CountRecall", {}),
    }
    for name, presets in [
        ("RepeatPrevious", card_games.REPEAT_PREVIOUS_PRESETS),
        ("RepeatFirst", card_games.REPEAT_FIRST_PRESETS),
        ("CountRecall", card_games.COUNT_RECALL_PRESETS),
    ]:
        for difficulty, kwargs in presets.items():
            entries[f"{NAMESPACE}{name}{difficulty}-v0"] = (f"{cards}:{name}", kwargs)
    return entries


ENV_IDS: tuple[str, ...] = tuple(_entries())


def register_envs() -> None:
    """Register the ``dni_rnn/...`` ids with gymnasium (idempotent: known ids are skipped)."""
    for env_id, (entry_point, kwargs) in _entries().items():
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, vector_entry_point=entry_point, kwargs=dict(kwargs))
