"""gradcheck: the tape's gradients against central finite differences, in float64."""
import numpy as np

from .mode import no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """The analytic and numeric gradients disagree; the message says where and by how much."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4, seed=0):
    """Check d fn(*inputs) / d input for every input that requires grad.

    The inputs are copied to float64. A non-scalar output is reduced as sum(out * v) with a fixed random
    v, which checks the vector-Jacobian product the tape computes. Returns True or raises GradcheckError
    naming the worst input, index, analytic and numeric values.
    """
    if not callable(fn):
        raise TypeError(f"gradcheck: fn must be a function of the inputs, got {type(fn).__name__}")
    if not isinstance(inputs, (list, tuple)):
        raise TypeError(f"gradcheck: inputs must be a list or tuple of Tensors, got {type(inputs).__name__} "
                        "(wrap a single tensor: [x])")
    xs = [Tensor(np.array(t.data if isinstance(t, Tensor) else t, dtype=np.float64),
                 requires_grad=getattr(t, "requires_grad", False), name=getattr(t, "name", None))
          for t in inputs]
    checked = [i for i, x in enumerate(xs) if x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, nothing to check")
    out = fn(*xs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    v = np.random.default_rng(seed).standard_normal(out.shape)

    def scalar():
        with no_grad():
            return float(np.sum(fn(*xs).data * v))

    (out * v).sum().backward()
    for i in checked:
        x = xs[i]
        analytic = np.zeros_like(x.data) if x.grad is None else x.grad
        if analytic.shape != x.shape:                    # would broadcast in the comparison below
            raise GradcheckError(f"gradcheck failed for input {i}: its gradient has shape {analytic.shape}, "
                                 f"the input has shape {x.shape}")
        numeric = np.zeros_like(x.data)
        for idx in np.ndindex(x.shape):
            keep = x.data[idx]
            x.data[idx] = keep + eps
            up = scalar()
            x.data[idx] = keep - eps
            down = scalar()
            x.data[idx] = keep
            numeric[idx] = (up - down) / (2 * eps)
        bad = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        if bad.size and bad.max() > 0:
            idx = np.unravel_index(np.argmax(bad), bad.shape)
            label = f"input {i}" + (f" ({x.name})" if x.name else "")
            raise GradcheckError(f"gradcheck failed for {label} of shape {x.shape} at index {idx}: "
                                 f"analytic {analytic[idx]:.10g}, numeric {numeric[idx]:.10g} "
                                 f"(atol={atol}, rtol={rtol})")
    return True
