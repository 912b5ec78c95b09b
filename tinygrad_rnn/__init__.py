"""tinygrad-rnn: a small, exact autodiff on numpy for learning how recurrent networks learn."""
from .anomaly import AnomalyError, detect_anomaly
from .functional import concat, cross_entropy, linear, log_softmax, mse_loss, softmax, stack
from .gradcheck import GradcheckError, gradcheck
from .ops import OPS
from .tape import GraphError, Node, ValuesChanged, Step, current_scope, graph, is_grad_enabled, no_grad, scope, walk
from .tensor import OpError, Tensor, get_default_dtype, set_default_dtype

__version__ = "0.1.0"

__all__ = [
    "Tensor", "Node", "Step", "OPS", "graph", "walk", "no_grad", "is_grad_enabled", "scope", "current_scope",
    "concat", "stack", "linear", "softmax", "log_softmax", "cross_entropy", "mse_loss", "gradcheck",
    "detect_anomaly", "set_default_dtype", "get_default_dtype",
    "GraphError", "ValuesChanged", "OpError", "GradcheckError", "AnomalyError", "__version__",
]

# models, training pieces and the seed's networks (issue 3)
from . import nn, optim, rnn, seed  # noqa: E402
from .nn import Module, Parameter  # noqa: E402
from .optim import clip_grad_norm  # noqa: E402
from .rng import initial_seed, manual_seed  # noqa: E402
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, detach_state  # noqa: E402

__all__ += [
    "nn", "optim", "rnn", "seed", "Module", "Parameter", "clip_grad_norm", "manual_seed", "initial_seed",
    "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "detach_state",
]

# stepping through backprop, Jacobians (issue 5); tinygrad_rnn.bptt and tinygrad_rnn.flow are imported on demand
from .stepper import Stepper, jacobian  # noqa: E402

__all__ += ["Stepper", "jacobian"]
