"""tinygrad-rnn: a small, exact autodiff on numpy for learning how recurrent networks learn.

The public face (`tg.*`), re-exports only. The code is in three layers: `core/` (the autodiff: read
core/tape.py's reference_walk first), the models beside it (`nn`, `rnn`, `optim`, `tasks`), and `teach/`
(tools that read the tape to explain it). `viz`, beside this package, draws what the tape recorded.
"""
from .core.anomaly import AnomalyError
from .core.functional import concat, cross_entropy, linear, log_softmax, mse_loss, softmax, stack
from .core.gradcheck import GradcheckError, gradcheck
from .core.mode import current_scope, detect_anomaly, is_grad_enabled, no_grad, scope
from .core.ops import OPS
from .core.rng import initial_seed, manual_seed
from .core.tape import GraphError, Node, Step, ValuesChanged, graph, walk
from .core.tensor import OpError, Tensor, get_default_dtype, set_default_dtype

from . import nn, optim, rnn
from .nn import Module, Parameter
from .optim import clip_grad_norm
from .packing import PackedSequence, pack_padded_sequence, pack_sequence, pad_packed_sequence, pad_sequence
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, detach_state

# tg.nn.LSTM etc., as torch.nn.LSTM: nn sits below rnn.py (rnn imports it), so the face hangs them on it
_RECURRENT = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU, "RNNCell": RNNCell, "LSTMCell": LSTMCell, "GRUCell": GRUCell}
vars(nn).update(_RECURRENT)
nn.__all__ = [*nn.__all__, *_RECURRENT]
from .nn import functional as _nn_functional, utils as _nn_utils  # noqa: F401  loads tg.nn.functional, tg.nn.utils

from .teach import bptt, flow, seed, stepper
from .teach.stepper import Stepper, jacobian

__version__ = "0.1.0"

__all__ = [
    "Tensor", "Node", "Step", "OPS", "graph", "walk", "no_grad", "is_grad_enabled", "scope", "current_scope",
    "concat", "stack", "linear", "softmax", "log_softmax", "cross_entropy", "mse_loss", "gradcheck",
    "detect_anomaly", "set_default_dtype", "get_default_dtype", "manual_seed", "initial_seed",
    "GraphError", "ValuesChanged", "OpError", "GradcheckError", "AnomalyError", "__version__",
    "nn", "optim", "rnn", "Module", "Parameter", "clip_grad_norm",
    "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "detach_state",
    "PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "pack_sequence",
    "bptt", "flow", "seed", "stepper", "Stepper", "jacobian",
]
