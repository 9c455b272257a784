"""Batched memory environments written as torch tensor operations, one module per family.

Every environment here is a ``gymnasium.vector.VectorEnv`` whose whole batch lives in tensors on
one ``device``: ``step`` advances all ``num_envs`` sub-environments with a fixed sequence of tensor
operations, with no Python loop over environments and no host-device synchronisation (no
``.item()``, no Python ``if`` on a tensor value), so that a GPU learner never waits for its
environments. Observations, rewards, terminations and truncations are returned as tensors on the
device; the tensors returned by one call are never modified by a later call.

Autoreset follows gymnasium 1.x (``metadata["autoreset_mode"]``, ``AutoresetMode.NEXT_STEP`` by
default): the ``step`` after a step where a sub-environment terminated or was truncated resets that
sub-environment and returns the first observation of its new episode with reward 0,
``terminated = truncated = False``, and the action ignored. ``SAME_STEP`` (the new episode's first
observation returned at once, the ended one's last in ``infos["final_obs"]`` with mask
``infos["_final_obs"]``) and ``DISABLED`` (only ``reset(options={"reset_mask": mask})`` resets; stepping
a finished sub-environment is undefined) are supported as well.

Randomness comes from one ``torch.Generator`` on the device (``self.generator``), seeded by
``reset(seed=...)``; without a seed it starts from a non-deterministic seed.

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
