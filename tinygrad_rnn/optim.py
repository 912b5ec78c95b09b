"""Optimisers with PyTorch's update rules and options (SGD, Adam, AdamW) and gradient clipping (by norm, by value).

They read `.grad` (filled by the tape's walk) and write new parameter arrays; nothing here is recorded.
A parameter whose .grad is None is skipped, as in PyTorch: a frozen one (requires_grad=False) among
model.parameters() is left as it is.
"""
import math
import numbers

import numpy as np

from .core.tape import changed
from .core.tensor import Tensor

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "clip_grad_norm", "clip_grad_value", "clip_grad_norm_",
           "clip_grad_value_"]


def _params(params, owner):
    if isinstance(params, Tensor):                       # iterating it would give its rows, not one parameter
        raise TypeError(f"{owner}: params must be an iterable of Tensors such as model.parameters() or [w], got "
                        f"a single Tensor of shape {params.shape}")
    params = list(params)
    if not params:
        raise ValueError(f"{owner}: got an empty list of parameters")
    for i, p in enumerate(params):
        if isinstance(p, dict):
            raise TypeError(f"{owner}: parameter groups (dicts such as {{'params': ..., 'lr': ...}}) are not "
                            f"supported; pass one list of Tensors and make one optimizer per group")
        if not isinstance(p, Tensor) or not p.is_leaf:   # a frozen one (requires_grad=False) is a leaf too
            raise TypeError(f"{owner}: parameter {i} must be a leaf Tensor such as a Parameter "
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
    """torch.optim.SGD: d = grad + weight_decay * p; with momentum, v = momentum * v + (1 - dampening) * d
    (v = d on the first step) and d = v, or d + momentum * v with nesterov=True; then p -= lr * d."""

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params)
        self.lr = _number(lr, "lr", "SGD", low_open=True)
        self.momentum = _number(momentum, "momentum", "SGD", high=1.0)
        self.dampening = _number(dampening, "dampening", "SGD")
        self.weight_decay = _number(weight_decay, "weight_decay", "SGD")
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening = 0, got momentum="
                             f"{self.momentum}, dampening={self.dampening}")
        self.velocity = [None] * len(self.params)

    def step(self):
        for k, p in enumerate(self.params):
            if p.grad is None:
                continue
            d = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad
            if self.momentum:
                self.velocity[k] = v = self._velocity(self.velocity[k], d)
                d = d + self.momentum * v if self.nesterov else v
            p.data = p.data - self.lr * d
            changed(p)

    def _velocity(self, v, d):
        if v is None:                                    # a copy: a later in-place change to .grad
            return np.array(d)                           # must not reach the buffer
        return self.momentum * v + (1 - self.dampening) * d if self.dampening else self.momentum * v + d


class Adam(Optimizer):
    """torch.optim.Adam: moments m, v of g = grad + weight_decay * p, with bias correction;
    p -= lr m_hat / (sqrt(v_hat) + eps), where amsgrad=True uses the largest v seen so far."""
    _decoupled = False                                   # AdamW: decay the weight itself instead of the gradient

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        super().__init__(params)
        owner = type(self).__name__
        self.lr = _number(lr, "lr", owner, low_open=True)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = tuple(_number(b, f"betas[{i}]", owner, high=1.0) for i, b in enumerate(betas))
        self.eps = _number(eps, "eps", owner)
        self.weight_decay = _number(weight_decay, "weight_decay", owner)
        self.amsgrad = bool(amsgrad)
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]
        self.v_max = [np.zeros_like(p.data) for p in self.params] if self.amsgrad else None
        self.steps = [0] * len(self.params)

    def step(self):
        b1, b2 = self.betas
        for k, p in enumerate(self.params):
            if p.grad is None:
                continue
            g, data = p.grad, p.data
            if self.weight_decay and self._decoupled:
                data = data * (1 - self.lr * self.weight_decay)
            elif self.weight_decay:
                g = g + self.weight_decay * data
            self.steps[k] += 1
            self.m[k] = b1 * self.m[k] + (1 - b1) * g
            self.v[k] = b2 * self.v[k] + (1 - b2) * g * g
            v = self.v[k]
            if self.amsgrad:
                self.v_max[k] = v = np.maximum(self.v_max[k], v)
            # bias correction: the moments start at 0, so early averages are scaled up by 1/(1 - beta^t)
            step_size = self.lr / (1 - b1 ** self.steps[k])
            denom = np.sqrt(v) / math.sqrt(1 - b2 ** self.steps[k]) + self.eps
            p.data = data - step_size * self.m[k] / denom
            changed(p)


class AdamW(Adam):
    """torch.optim.AdamW: Adam with decoupled weight decay, p *= 1 - lr * weight_decay before Adam's step
    (the decay does not pass through the moments). weight_decay defaults to 0.01, as in torch."""
    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


def _with_grads(params, owner):
    """The parameters that have a .grad; a single Tensor is accepted for a list of one, as in torch."""
    if isinstance(params, Tensor):
        params = [params]
    params = list(params)
    return [p for p in (_params(params, owner) if params else []) if p.grad is not None]


def clip_grad_norm(params, max_norm, norm_type=2.0, error_if_nonfinite=False, eps=1e-6):
    """Scale every gradient by min(1, max_norm / (norm + eps)), norm being the norm_type-norm of all the
    gradients together (inf: the largest |g|). Returns the norm before clipping (a float).

    eps=1e-6 is torch.nn.utils.clip_grad_norm_'s rule, the default so that a script ported from PyTorch clips
    the same numbers; eps=0 is the seed's rule (scale by max_norm / norm exactly when norm > max_norm). The two
    differ by a relative 1e-6 / norm. A non-finite norm raises RuntimeError with error_if_nonfinite=True;
    otherwise, as in torch, the gradients are scaled by it (and become nan or 0)."""
    params = _with_grads(params, "clip_grad_norm")
    max_norm = _number(max_norm, "max_norm", "clip_grad_norm", low_open=True)
    norm_type = math.inf if norm_type in (math.inf, "inf") else _number(norm_type, "norm_type", "clip_grad_norm",
                                                                         low_open=True)
    eps = _number(eps, "eps", "clip_grad_norm")
    norm = _total_norm([p.grad for p in params], norm_type)
    if error_if_nonfinite and not math.isfinite(norm):
        raise RuntimeError(f"clip_grad_norm: the total norm of order {norm_type} of the gradients is {norm}, "
                           f"so it cannot be clipped; pass error_if_nonfinite=False to scale by it anyway")
    scale = max_norm / (norm + eps) if norm + eps != 0 else math.inf
    if scale < 1.0 or math.isnan(scale):
        with np.errstate(invalid="ignore"):             # inf * 0 = nan, as in torch
            for p in params:
                p.grad = p.grad * np.asarray(scale, dtype=p.grad.dtype)
    return norm


def _total_norm(grads, norm_type):
    """The norm_type-norm of all entries of all grads (in float64): the norm of the per-tensor norms."""
    if not grads:
        return 0.0
    if norm_type == math.inf:
        return max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    total = sum(float(np.sum(np.abs(g.astype(np.float64)) ** norm_type)) for g in grads)
    return total ** (1.0 / norm_type)


def clip_grad_value(params, clip_value):
    """Clamp every gradient entry into [-clip_value, clip_value] (torch.nn.utils.clip_grad_value_)."""
    clip_value = _number(clip_value, "clip_value", "clip_grad_value")
    for p in _with_grads(params, "clip_grad_value"):
        p.grad = np.clip(p.grad, -clip_value, clip_value).astype(p.grad.dtype, copy=False)


clip_grad_norm_ = clip_grad_norm                          # torch.nn.utils' names (ours do not work in place)
clip_grad_value_ = clip_grad_value
