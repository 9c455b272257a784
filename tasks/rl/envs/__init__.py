"""Batched memory environments written as torch tensor operations, one module per family.

Every environment here is a ``gymnasium.vector.VectorEnv`` whose whole batch lives in tensors on one
``device`` and steps with no host-device synchronisation; autoreset follows gymnasium 1.x (``NEXT_STEP`` by
default, ``SAME_STEP`` and ``DISABLED`` too), randomness comes from one seeded ``torch.Generator``. The
full contract is in ``base`` (``TorchBatchedEnv``).

Environments (the ids are registered with gymnasium when this package is imported)::

    MemoryChain            dni_rnn/MemoryChain-v0                      bsuite memory_len
    RepeatPrevious         dni_rnn/RepeatPrevious{,Easy,Medium,Hard}-v0  popgym 1.0.7
    RepeatFirst            dni_rnn/RepeatFirst{,Easy,Medium,Hard}-v0     popgym 1.0.7
    CountRecall            dni_rnn/CountRecall{,Easy,Medium,Hard}-v0     popgym 1.0.7
    PositionOnlyCartPole   dni_rnn/PositionOnlyCartPole-v0             CartPole-v1, obs [x, theta]

Build one with gymnasium's ``"module:EnvId"`` form, which imports this package first::

    gymnasium.make_vec("dni_rnn_tasks.rl.envs:dni_rnn/MemoryChain-v0", num_envs=64,
                       vectorization_mode="vector_entry_point", memory_length=32, device="cuda")

(or ``"dni_rnn/MemoryChain-v0"`` after ``import dni_rnn_tasks.rl.envs``), or construct the class directly.

Modules: ``base`` (``TorchBatchedEnv``: autoreset, partial resets, seeding, ``state_dict``), ``memory_chain``,
``deck`` (``ShuffledDeck``), ``card_games``, ``cartpole``, ``registry`` (the ids).
"""

from dni_rnn_tasks.rl.envs.base import TorchBatchedEnv
from dni_rnn_tasks.rl.envs.card_games import (
    COUNT_RECALL_PRESETS,
    REPEAT_FIRST_PRESETS,
    REPEAT_PREVIOUS_PRESETS,
    CountRecall,
    RepeatFirst,
    RepeatPrevious,
)
from dni_rnn_tasks.rl.envs.cartpole import PositionOnlyCartPole
from dni_rnn_tasks.rl.envs.deck import ShuffledDeck
from dni_rnn_tasks.rl.envs.memory_chain import MemoryChain
from dni_rnn_tasks.rl.envs.registry import ENV_IDS, NAMESPACE, register_envs

__all__ = [
    "COUNT_RECALL_PRESETS",
    "ENV_IDS",
    "NAMESPACE",
    "REPEAT_FIRST_PRESETS",
    "REPEAT_PREVIOUS_PRESETS",
    "CountRecall",
    "MemoryChain",
    "PositionOnlyCartPole",
    "RepeatFirst",
    "RepeatPrevious",
    "ShuffledDeck",
    "TorchBatchedEnv",
    "register_envs",
]

register_envs()
