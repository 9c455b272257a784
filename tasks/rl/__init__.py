"""Streaming reinforcement learning on the window engine: ``dni-rnn train rl --env ID``.

Modules: ``task`` (``RLTask``, the learner), ``options`` (``RLOptions``), ``losses`` (lambda-returns, the
actor-critic head), ``make`` (the run's environments from an id), ``envs/`` (batched torch environments, one
file per family, and their gymnasium ids), ``adapters`` (any gymnasium id as torch tensors),
``episode_statistics`` (returns and lengths on the device), ``observations`` (flat features of any space).
"""

from dni_rnn_tasks.rl.losses import ActorCriticHead, lambda_returns
from dni_rnn_tasks.rl.options import RLOptions
from dni_rnn_tasks.rl.task import RLTask

__all__ = ["ActorCriticHead", "RLOptions", "RLTask", "lambda_returns"]
