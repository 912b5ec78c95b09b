"""torch.nn.functional's names for what a training loop calls (`import tinygrad_rnn.nn.functional as F`), with
torch's argument names (input, dim); each is the core function or Tensor method of the same name."""
from ..core import functional as _core
from . import no_class_weights

__all__ = ["linear", "softmax", "log_softmax", "relu", "sigmoid", "tanh", "cross_entropy", "mse_loss"]


def linear(input, weight, bias=None):
    return _core.linear(input, weight, bias)


def softmax(input, dim):
    return _core.softmax(input, dim)


def log_softmax(input, dim):
    return _core.log_softmax(input, dim)


def relu(input):
    return input.relu()


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def cross_entropy(input, target, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Per-class weights are not supported (weight must be None); the options after it are keywords."""
    no_class_weights(weight, "cross_entropy")
    return _core.cross_entropy(input, target, ignore_index, reduction, label_smoothing)


def mse_loss(input, target, *, reduction="mean"):
    return _core.mse_loss(input, target, reduction)
