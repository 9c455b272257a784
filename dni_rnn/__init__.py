"""dni_rnn: truncated BPTT with synthetic boundary gradients (Decoupled Neural Interfaces) for recurrent networks.

The primary API is :class:`SyntheticBoundary`, which adds a synthetic gradient to any training loop::

    boundary = dni_rnn.SyntheticBoundary(dni_rnn.state_size(core.initial_state(1)), scale=0.1)
    start = boundary.start(state)
    outputs, final = core(inputs, start)
    boundary.backward(loss_fn(outputs), final, next_resets=done)
    optimizer.step()
    boundary.update()
    state = boundary.carry(final)

:class:`WindowEngine` is the same loop with its optimisers, clipping, NaN guard, ``dni_aux``, n-step targets and
the SG-quality probe; the ``dni-rnn`` command trains the built-in tasks with it.
"""

from dni_rnn.boundary import SyntheticBoundary
from dni_rnn.cores import Core, EncodedCore, GRUCore, LSTMCore, RNNCore, make_core
from dni_rnn.engine import METHODS, EngineConfig, NonFiniteError, Window, WindowEngine
from dni_rnn.probe import SGProbe
from dni_rnn.state import LSTMState, State, detach_state, flatten_state, state_size, unflatten_state
from dni_rnn.synthetic_gradient import SyntheticGradient
from dni_rnn.targets import lambda_target

__all__ = [
    "METHODS",
    "Core",
    "EncodedCore",
    "EngineConfig",
    "GRUCore",
    "LSTMCore",
    "LSTMState",
    "NonFiniteError",
    "RNNCore",
    "SGProbe",
    "State",
    "SyntheticBoundary",
    "SyntheticGradient",
    "Window",
    "WindowEngine",
    "detach_state",
    "flatten_state",
    "lambda_target",
    "make_core",
    "state_size",
    "unflatten_state",
]
