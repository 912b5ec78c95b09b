# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 2. Your own loop over a cell, folded and unrolled
#
# A recurrent network is usually drawn *folded*: one cell with a loop on its state. What the computer runs
# (and what the tape records) is the *unrolled* graph: one copy of the cell per time step, all sharing the
# same weights. In this notebook you write the loop yourself, first with bare tensor ops and then with
# `tg.RNNCell`, and read the unrolled graph it leaves on the tape.

# %%
import numpy as np

import tinygrad_rnn as tg
import viz
from tinygrad_rnn.teach import exercises as ex

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)
I, H, T = 2, 3, 3                                    # input size, state size, time steps
xs = rng.uniform(-1, 1, (T, 1, I))                   # x_1..x_3, each a batch of one row

# %% [markdown]
# ## The loop, by hand
#
# Three weights, created once; a loop that uses them at every step. Each step runs inside
# `tg.scope(f"t={t}")`, which is how the drawing knows the time steps, and each state gets a name.

# %%
W_xh = tg.Tensor(rng.uniform(-0.8, 0.8, (I, H)), requires_grad=True, name="W_xh")
W_hh = tg.Tensor(rng.uniform(-0.8, 0.8, (H, H)), requires_grad=True, name="W_hh")
b = tg.Tensor(rng.uniform(-0.2, 0.2, H), requires_grad=True, name="b")


def my_cell(x, h):
    return (x @ W_xh + h @ W_hh + b).tanh()


h = tg.Tensor(np.zeros((1, H)), name="h_0")
for t in range(1, T + 1):
    with tg.scope(f"t={t}"):
        h = my_cell(xs[t - 1], h)
        h.name = f"h_{t}"
loss = (h * h).sum()
loss.backward(keep_grads=True)
h_hand = h.data
print("h_3 =", h_hand, "  loss =", loss.item())

# %% [markdown]
# ## The folded picture
#
# The cell computes $h_t = \tanh(x_t W_{xh} + h_{t-1} W_{hh} + b)$; the loop feeds `h_t` back in as the next
# step's `h_(t-1)`. This is the picture of your *code*: one cell, one loop. `viz.draw(loss, folded=True)`
# draws it from the tape: the ops of one step, the state's edge looping back (×T steps), each weight once
# with ‖.grad‖ and the smallest and largest of its per-step terms. It stays this size for any number of steps.

# %%
viz.draw(loss, folded=True)

# %% [markdown]
# ## The unrolled picture
#
# The tape holds one copy of the cell per step, and every step is drawn the same way. A weight shows in each
# step as a dashed copy: the number on its edge is the norm of the gradient the backward walk sent along it,
# that step's term of the weight's gradient, and the table adds the terms up to `.grad`.

# %%
viz.draw(loss)

# %% [markdown]
# ## The same loop with `tg.RNNCell`
#
# `tg.RNNCell` follows PyTorch: `h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)`, so its weights are stored
# transposed compared with the seed's `x W`. Calling it in a plain loop is all it takes: the cell sees that
# the state it gets is one it made, counts the steps, opens the scope `rnn_cell/t=<k>` and names
# `x_k`, `a_k`, `h_k` itself.

# %%
tg.manual_seed(0)
cell = tg.RNNCell(I, H, dtype=np.float64)
h = None
for t in range(T):
    h = cell(xs[t], h)
loss_cell = (h * h).sum()
loss_cell.backward(keep_grads=True)
for node in tg.graph(loss_cell):
    print(f"{node.index:2d} {node.op.name:7s} {node.scope_name:14s} {node.output.name or ''}")

# %%
viz.draw(loss_cell)

# %% [markdown]
# A longer unroll is drawn with its middle steps folded into one box (`max_steps`), one box per cell
# (`detail="cells"`):

# %%
cell.zero_grad()                                    # the drawing's table checks the terms sum to .grad
h = None
for t in range(20):
    h = cell(rng.uniform(-1, 1, (1, I)), h)
loss_long = (h * h).sum()
loss_long.backward(keep_grads=True)
viz.draw(loss_long, detail="cells", max_steps=4)

# %% [markdown]
# ## Exercises
#
# ### Exercise 2.1 — the same network, two conventions
# Give `tg.RNNCell` weights that make it compute exactly your hand-written loop: fill in its four
# parameters from `W_xh`, `W_hh` and `b` (numpy arrays: use `.data`). The check runs the library loop with
# your weights and compares its `h_3` with your loop's.

# %% tags=["exercise"]
weight_ih = weight_hh = bias_ih = bias_hh = ...     # your answer: four numpy arrays
# BEGIN SOLUTION
weight_ih, weight_hh = W_xh.data.T, W_hh.data.T
bias_ih, bias_hh = b.data, np.zeros(H)
# END SOLUTION


def library_loop(weight_ih, weight_hh, bias_ih, bias_hh):
    twin = tg.RNNCell(I, H, dtype=np.float64)
    for p, value in zip((twin.weight_ih, twin.weight_hh, twin.bias_ih, twin.bias_hh),
                        (weight_ih, weight_hh, bias_ih, bias_hh)):
        p.data = np.array(value, dtype=np.float64).reshape(p.shape)
    h = None
    for t in range(T):
        h = twin(xs[t], h)
    return h.data


ex.check_true("2.1", (weight_ih, weight_hh, bias_ih, bias_hh),
              lambda a: np.allclose(library_loop(*a), h_hand, rtol=1e-12, atol=1e-12),
              "tg.RNNCell with your weights gives your loop's h_3", what="four numpy arrays",
              hint="x W_ihᵀ = x W_xh when W_ih = W_xhᵀ; the two biases are added, so one of them can be zero")

# %% [markdown]
# ### Exercise 2.2 — one term of `W_hh.grad`, by hand
# In the `tg.RNNCell` loop, step 2 computes `a_2 = linear(h_1, W_hh, b_hh, add=xW_2) = h_1 W_hhᵀ + ...`.
# The gradient `g_2 = ∂loss/∂a_2` that the walk brought to `a_2` is on the tape. Compute the term of
# `W_hh.grad` that this step contributes (a `(3, 3)` array) from `g_2` and `h_1`; the check compares it with
# the gradient the walk sent along the edge from `a_2` to `W_hh`.

# %% tags=["exercise"]
tensors = {node.output.name: node.output for node in tg.graph(loss_cell)}
g_2 = tensors["a_2"].node.grad                      # ∂loss/∂a_2, kept by backward(keep_grads=True)
h_1 = tensors["h_1"].data
term_2 = ...        # your answer: W_hh's term from step 2
# BEGIN SOLUTION
term_2 = g_2.T @ h_1
# END SOLUTION
a_2 = tensors["a_2"].node
sent = a_2.input_grads[next(k for k, inp in enumerate(a_2.inputs) if inp is cell.weight_hh)]
ex.check_array("2.2", term_2, sent, what="W_hh's term from step 2",
               hint="y = h Wᵀ sends gᵀ h to W (compare the seed's y = s W, which sends sᵀ g)")

# %% [markdown]
# ### Exercise 2.3 — what a detach cuts
# Run the loop again, but detach the state after step 2 (`h = h.detach()`: the same numbers, no history),
# with the loss reading only `h_3`. Which steps' terms of `W_hh.grad` are nonzero now? Answer with a list
# of steps, e.g. `[1, 3]`.

# %% tags=["exercise"]
nonzero_steps = ...    # your answer: a list of time steps
# BEGIN SOLUTION
nonzero_steps = [3]
# END SOLUTION
tg.manual_seed(0)
cut = tg.RNNCell(I, H, dtype=np.float64)
h = None
for t in range(T):
    with tg.scope(f"t={t + 1}"):
        h = cut(xs[t], h)
    if t == 1:
        h = h.detach()                               # the cut: step 3 starts from h_2's numbers only
loss_cut = (h * h).sum()
loss_cut.backward(keep_grads=True)
steps_with_a_term = sorted(int(tg.stepper.time_of(node)[2:]) for node in tg.graph(loss_cut)
                           for inp, g in zip(node.inputs, node.input_grads)
                           if inp is cut.weight_hh and g is not None and np.any(g))
ex.check_true("2.3", nonzero_steps,
              lambda steps: sorted(steps) == steps_with_a_term,
              "your steps are the ones whose term of W_hh.grad survives the detach",
              what="a list of time steps",
              hint="after the detach, the backward walk cannot reach steps 1 and 2 from h_3")

# %% [markdown]
# ## Your score

# %%
ex.score("2.1", "2.2", "2.3")
