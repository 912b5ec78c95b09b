"""Hostile and careless names for the escaping tests: each one in every place a user can name something."""
import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.core import ops
from tinygrad_rnn.core.tensor import apply

PWN = "window.__pwned=1"
PAYLOADS = [
    "</script>", "<img src=x onerror=alert(1)>", f"<img src=x onerror={PWN}>", f"<svg onload={PWN}>",
    "<!--<script>", "it's", 'say "hi"', "]]>", "line\u2028para\u2029end", "back\\slash", "ends in \\",
    "{b}{0}}{", "new\nline", "nul\x00byte", "<B>bold</B>", '<x> ]; evil [URL="javascript:alert(1)"] <y>',
    f"<a href=\"javascript:{PWN}\">click</a>", "\\N\\G\\L", "L" * 20000,
]
EVIL_SCOPE = PAYLOADS[15]
TIME_SCOPE = f"t=<img src=x onerror={PWN}>"     # looks like a time step to a careless parser
READ = f"W_<img src=x onerror={PWN}>"
LOSS = f"E</script><!--<script>{PWN}//\u2028\\"


def _custom_op(name):
    """An op defined outside the built-in table, its name and rule the payload (registered in ops.OPS)."""
    def forward(x):
        return x * 0.5, None

    def vjp(g, saved, needs):
        return (g * 0.5,)
    return type("PayloadOp", (ops.Op,), {"name": name, "rule": name, "latex": name,
                                         "forward": staticmethod(forward), "vjp": staticmethod(vjp)})


def payload_graph(payloads=PAYLOADS, steps=2):
    """A two-step recurrence whose leaves, intermediates, scopes, custom ops and loss carry the payloads.
    Returns (loss, names) with names = {payload: leaf}. The custom ops leave ops.OPS as it was."""
    rng = np.random.default_rng(0)
    leaves = {p: tg.Tensor(rng.normal(size=(2, 2)) * 0.4, requires_grad=True, name=p) for p in payloads}
    before = dict(ops.OPS)
    try:
        made = [_custom_op(p) for p in payloads]
        h = tg.Tensor(np.full((1, 2), 0.3), name="h_0")
        with tg.scope(EVIL_SCOPE), tg.scope(TIME_SCOPE):
            for t in range(1, steps + 1):
                with tg.scope(f"t={t}"):
                    for p, op in zip(payloads, made):
                        with tg.scope(p):
                            z = apply(op, h @ leaves[p])
                            z.name = p
                            h = z.tanh()
                    h.name = f"h_{t}"
        read = tg.Tensor(rng.normal(size=(2, 1)), requires_grad=True, name=READ)
        with tg.scope(PAYLOADS[2]):          # a leaf used twice outside the steps: its terms are named by this scope
            y = (h @ read) * (h @ read)
            y.name = PAYLOADS[1]
        leaves[READ] = read
        loss = (y * y).sum()
        loss.name = LOSS
    finally:
        ops.OPS.clear()
        ops.OPS.update(before)
    return loss, leaves
