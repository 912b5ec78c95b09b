"""torch.nn.utils' names: gradient clipping (from optim) and, in `rnn`, the variable-length batch tools."""
from ...optim import clip_grad_norm, clip_grad_norm_, clip_grad_value, clip_grad_value_
from . import rnn

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value", "clip_grad_value_", "rnn"]
