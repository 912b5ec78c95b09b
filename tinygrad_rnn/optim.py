"""Optimisers with PyTorch's update rules (SGD with momentum, Adam) and the seed's gradient clipping.

They read `.grad` (filled by the tape's walk) and write new parameter arrays; nothing here is recorded.
A parameter whose .grad is None is skipped, as in PyTorch.
"""
import math
import numbers

import numpy as np

from .core.tape import changed
from .core.tensor import Tensor

__all__ = ["SGD", "Adam", "Optimizer", "clip_grad_norm"]


def _params(params, owner):
    params = list(params)
    if not params:
        raise ValueError(f"{owner}: got an empty list of parameters")
    for i, p in enumerate(params):
        if not isinstance(p, Tensor) or not p.requires_grad or not p.is_leaf:
            raise TypeError(f"{owner}: parameter {i} must be a leaf Tensor with requires_grad=True "
                            f"(e.g. model.parameters()), got {p!r:.80}")
    return params


def _number(value, what, owner, low=0.0, high=math.inf, low_open=False):
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{owner}: {what} must be a number, got {type(value).__name__}")
    if not (low < value if low_open else low <= value) or not value < high:
        bounds = f"{'(' if low_open else '['}{low}, {high})"
        raise ValueError(f"{owner}: {what} must lie in {bounds}, got {value}")
    return float(value)


class Optimizer:
    def __init__(self, params):
        self.params = _params(params, type(self).__name__)

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        raise NotImplementedError


class SGD(Optimizer):
    """p -= lr * v, with v = momentum * v + grad (v = grad on the first step), as torch.optim.SGD."""

    def __init__(self, params, lr, momentum=0.0):
        super().__init__(params)
        self.lr = _number(lr, "lr", "SGD", low_open=True)
        self.momentum = _number(momentum, "momentum", "SGD", high=1.0)
        self.velocity = [None] * len(self.params)

    def step(self):
        for k, p in enumerate(self.params):
            if p.grad is None:
                continue
            v = p.grad
            if self.momentum:
                v = v if self.velocity[k] is None else self.momentum * self.velocity[k] + v
                self.velocity[k] = v
            p.data = p.data - self.lr * v
            changed(p)


class Adam(Optimizer):
    """torch.optim.Adam: moments m, v with bias correction; p -= lr m_hat / (sqrt(v_hat) + eps)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params)
        self.lr = _number(lr, "lr", "Adam", low_open=True)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = tuple(_number(b, f"betas[{i}]", "Adam", high=1.0) for i, b in enumerate(betas))
        self.eps = _number(eps, "eps", "Adam")
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]
        self.steps = [0] * len(self.params)

    def step(self):
        b1, b2 = self.betas
        for k, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad
            self.steps[k] += 1
            self.m[k] = b1 * self.m[k] + (1 - b1) * g
            self.v[k] = b2 * self.v[k] + (1 - b2) * g * g
            # bias correction: the moments start at 0, so early averages are scaled up by 1/(1 - beta^t)
            step_size = self.lr / (1 - b1 ** self.steps[k])
            denom = np.sqrt(self.v[k]) / math.sqrt(1 - b2 ** self.steps[k]) + self.eps
            p.data = p.data - step_size * self.m[k] / denom
            changed(p)


def clip_grad_norm(params, max_norm):
    """The seed's clipping: if the global norm of all gradients exceeds max_norm, scale every gradient by
    max_norm / norm. Returns the norm before clipping (a float)."""
    params = [p for p in _params(params, "clip_grad_norm") if p.grad is not None]
    max_norm = _number(max_norm, "max_norm", "clip_grad_norm", low_open=True)
    norm = math.sqrt(sum(float(np.sum(np.square(p.grad, dtype=np.float64))) for p in params))
    if norm > max_norm:
        for p in params:
            p.grad = p.grad * np.asarray(max_norm / norm, dtype=p.grad.dtype)
    return norm
