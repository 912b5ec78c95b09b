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

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "zero_grads", "clip_grad_norm", "clip_grad_value",
           "clip_grad_norm_", "clip_grad_value_"]


def _params(params, owner):
    if isinstance(params, Tensor):                       # iterating it would give its rows, not one parameter
        raise TypeError(f"{owner}: params must be an iterable of Tensors such as model.parameters() or [w], got "
                        f"a single Tensor of shape {params.shape}")
    params = list(params)
    if not params:
        raise ValueError(f"{owner}: got an empty list of parameters")
    for i, p in enumerate(params):
        if not isinstance(p, Tensor) or not p.is_leaf:   # a frozen one (requires_grad=False) is a leaf too
            raise TypeError(f"{owner}: parameter {i} must be a leaf Tensor such as a Parameter "
                            f"(e.g. model.parameters()), got {p!r:.80}")
    return params


def _groups(params, owner):
    """torch's two forms: an iterable of Tensors (one group) or of dicts {'params': ..., 'lr': ...} (one each)."""
    if isinstance(params, Tensor):
        return [{"params": _params(params, owner)}]     # refused there, with its message
    items = list(params)
    dicts = [isinstance(item, dict) for item in items]
    if not any(dicts):
        return [{"params": _params(items, owner)}]
    if not all(dicts):
        raise TypeError(f"{owner}: params must be all Tensors or all parameter groups (dicts with 'params'), "
                        f"not a mix of both")
    groups = []
    for i, group in enumerate(items):
        if "params" not in group:
            raise ValueError(f"{owner}: parameter group {i} has no 'params', got keys {sorted(group)}")
        inside = group["params"]                         # a group may hold one Tensor, as in torch
        groups.append({**group, "params": _params([inside] if isinstance(inside, Tensor) else inside,
                                                  f"{owner}: parameter group {i}")})
    return groups


def _number(value, what, owner, low=0.0, high=math.inf, low_open=False):
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{owner}: {what} must be a number, got {type(value).__name__}")
    if not (low < value if low_open else low <= value) or not value < high:
        bounds = f"{'(' if low_open else '['}{low}, {high})"
        raise ValueError(f"{owner}: {what} must lie in {bounds}, got {value}")
    return float(value)


class Optimizer:
    """torch.optim.Optimizer's surface. `param_groups` is a list of dicts, each with its 'params' and every
    hyperparameter; step() reads them anew, so `group['lr'] = ...` between steps is a learning-rate schedule.
    `state[p]` holds a parameter's buffers (torch's names: 'momentum_buffer', 'exp_avg', ...)."""

    def __init__(self, params, defaults):
        owner = type(self).__name__
        self._hyper(defaults, "")                        # the constructor's arguments, named as given
        self.defaults = dict(defaults)
        self.param_groups = [{**self.defaults, **group} for group in _groups(params, owner)]
        for i, group in enumerate(self.param_groups):
            self._hyper(group, f"param_groups[{i}]")
        ids = [id(p) for group in self.param_groups for p in group["params"]]
        if len(set(ids)) < len(ids):
            raise ValueError(f"{owner}: a parameter appears twice in params; each must appear once (in one group)")
        self.state = {}

    def zero_grad(self, set_to_none=True):
        """Every parameter's .grad set to None (torch's default), or with set_to_none=False its array zeroed in
        place."""
        zero_grads([p for group in self.param_groups for p in group["params"]], set_to_none)

    def step(self):
        """One update of every parameter that has a .grad, with its group's hyperparameters as they are now
        (all checked first: a bad one changes no parameter)."""
        hypers = [self._hyper(group, f"param_groups[{i}]") for i, group in enumerate(self.param_groups)]
        for group, hyper in zip(self.param_groups, hypers):
            for p in group["params"]:
                if p.grad is not None:                   # a frozen parameter is skipped, as in torch
                    p.data = self._update(p, p.grad, self.state.setdefault(p, {}), **hyper)
                    changed(p)

    def _hyper(self, group, where):
        """The group's hyperparameters, checked: {name: value} for _update."""
        return {key: value for key, value in group.items() if key != "params"}

    def _update(self, p, grad, state, **hyper):
        """The parameter's new array."""
        raise NotImplementedError


def zero_grads(params, set_to_none=True):
    """torch's zero_grad(set_to_none): .grad = None, or the .grad array zeroed in place (a new zero array
    where numpy refuses the write)."""
    for p in params:
        if set_to_none or p.grad is None:
            p.grad = None
        elif p.grad.flags.writeable:
            p.grad[...] = 0
        else:
            p.grad = np.zeros_like(p.grad)


def _key(where, key):
    return f"{where}['{key}']" if where else key


class SGD(Optimizer):
    """torch.optim.SGD: d = grad + weight_decay * p; with momentum, v = momentum * v + (1 - dampening) * d
    (v = d on the first step) and d = v, or d + momentum * v with nesterov=True; then p -= lr * d."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov})

    def _hyper(self, group, where):
        hyper = {key: _number(group[key], _key(where, key), "SGD", high=1.0 if key == "momentum" else math.inf)
                 for key in ("lr", "momentum", "dampening", "weight_decay")}
        hyper["nesterov"] = bool(group["nesterov"])
        if hyper["nesterov"] and (hyper["momentum"] == 0 or hyper["dampening"] != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening = 0, got momentum="
                             f"{hyper['momentum']}, dampening={hyper['dampening']}"
                             + (f" in {where}" if where else ""))
        return hyper

    def _update(self, p, grad, state, lr, momentum, dampening, weight_decay, nesterov):
        d = grad + weight_decay * p.data if weight_decay else grad
        if momentum:
            v = state.get("momentum_buffer")
            if v is None:                                # a copy: a later in-place change to .grad
                v = np.array(d)                          # must not reach the buffer
            else:
                v = momentum * v + (1 - dampening) * d if dampening else momentum * v + d
            state["momentum_buffer"] = v
            d = d + momentum * v if nesterov else v
        return p.data - lr * d


class Adam(Optimizer):
    """torch.optim.Adam: moments m, v of g = grad + weight_decay * p, with bias correction;
    p -= lr m_hat / (sqrt(v_hat) + eps), where amsgrad=True uses the largest v seen so far."""
    _decoupled = False                                   # AdamW: decay the weight itself instead of the gradient

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                                  "amsgrad": amsgrad})

    def _hyper(self, group, where):
        owner, betas = type(self).__name__, group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"{owner}: {_key(where, 'betas')} must be a pair (beta1, beta2), got {betas!r}")
        hyper = {key: _number(group[key], _key(where, key), owner) for key in ("lr", "eps", "weight_decay")}
        hyper["betas"] = tuple(_number(b, f"{_key(where, 'betas')}[{i}]", owner, high=1.0)
                               for i, b in enumerate(betas))
        hyper["amsgrad"] = bool(group["amsgrad"])
        return hyper

    def _update(self, p, g, state, lr, betas, eps, weight_decay, amsgrad):
        (b1, b2), data = betas, p.data
        if weight_decay and self._decoupled:
            data = data * (1 - lr * weight_decay)
        elif weight_decay:
            g = g + weight_decay * data
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(data), exp_avg_sq=np.zeros_like(data))
        state["step"] += 1
        state["exp_avg"] = m = b1 * state["exp_avg"] + (1 - b1) * g
        state["exp_avg_sq"] = v = b2 * state["exp_avg_sq"] + (1 - b2) * g * g
        if amsgrad:
            state["max_exp_avg_sq"] = v = np.maximum(state.get("max_exp_avg_sq", 0), v)
        # bias correction: the moments start at 0, so early averages are scaled up by 1/(1 - beta^t)
        step_size = lr / (1 - b1 ** state["step"])
        denom = np.sqrt(v) / math.sqrt(1 - b2 ** state["step"]) + eps
        return data - step_size * m / denom


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
    gradients together (inf: the largest |g|). Returns the norm before clipping, a numpy float64: a float that
    also has torch's 0-d tensor's .item(), so norm.item(), float(norm) and f"{norm:.3f}" work as in torch.

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
    return np.float64(norm)


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
