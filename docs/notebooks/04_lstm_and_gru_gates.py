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
# # 4. LSTM and GRU: gates, and the path the gradient takes through the cell state
#
# An LSTM keeps, besides its output `h_t`, a cell state `c_t` updated *additively*, under three gates (PyTorch's
# order and names, which `tg.LSTM` follows; `σ` is the sigmoid, `⊙` the elementwise product):
#
# $$
# \begin{aligned}
# i_t &= \sigma(\cdots) \quad \text{input gate} & g_t &= \tanh(\cdots) \quad \text{candidate} \\
# f_t &= \sigma(\cdots) \quad \text{forget gate} & o_t &= \sigma(\cdots) \quad \text{output gate} \\
# c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
# h_t &= o_t \odot \tanh(c_t)
# \end{aligned}
# $$
#
# where the dots stand for one block of $x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh}$. Going back one
# step along the cell state multiplies the gradient by $f_t$ — no weight matrix, no derivative of a squashing
# function.
# This notebook reads the gates off the tape, follows that path, and does the same for the GRU.

# %%
import numpy as np

import tinygrad_rnn as tg
import viz
from tinygrad_rnn.teach import exercises as ex

np.set_printoptions(precision=4, suppress=True)
I, H, T = 2, 3, 4
xs = np.random.default_rng(0).uniform(-1, 1, (T, 1, I))      # (T, B, I): one sequence of 4 steps


def named_tensors(loss):
    """Every named tensor of the graph that made `loss`: h_1, c_1, f_1, ... as the layers name them."""
    return {node.output.name: node.output for node in tg.graph(loss) if node.output.name}


# %%
tg.manual_seed(0)
lstm = tg.LSTM(I, H, dtype=np.float64)
out, (h_n, c_n) = lstm(xs)
loss = (out[-1] * out[-1]).sum()                     # reads only the last output h_4
loss.backward(keep_grads=True)
tensors = named_tensors(loss)
for t in range(1, T + 1):
    print(f"t={t}: " + "  ".join(f"{g}={tensors[f'{g}_{t}'].data[0]}" for g in "ifgo"))

# %% [markdown]
# The first two steps, drawn at op detail, each the same way: each gate in its colour; the cell state c₁ enters
# step 2 as "c₁ from t=1".

# %%
tg.manual_seed(0)
two = tg.LSTM(I, H, dtype=np.float64)
out2, _ = two(xs[:2])
loss2 = (out2[-1] * out2[-1]).sum()
loss2.backward(keep_grads=True)
viz.draw(loss2, detail="ops")

# %% [markdown]
# ### Exercise 4.1 — one LSTM step by hand
# Recompute step 1 with numpy from the weights: the four gate blocks of
# `x_1 W_ihᵀ + b_ih + h_0 W_hhᵀ + b_hh` (in the order i, f, g, o, each `H` wide), then `c_1` and `h_1`.
# `h_0` and `c_0` are zeros. The check compares your `c_1` and `h_1` with the tape's.

# %% tags=["exercise"]
W_ih, W_hh = lstm.weight_ih_l0.data, lstm.weight_hh_l0.data
b_ih, b_hh = lstm.bias_ih_l0.data, lstm.bias_hh_l0.data
x_1, h_0, c_0 = xs[0], np.zeros((1, H)), np.zeros((1, H))
sigmoid = lambda z: 1 / (1 + np.exp(-z))
c_1 = h_1 = ...        # your answer: two (1, 3) arrays
# BEGIN SOLUTION
pre = x_1 @ W_ih.T + b_ih + h_0 @ W_hh.T + b_hh
i, f, g, o = (pre[:, k * H:(k + 1) * H] for k in range(4))
c_1 = sigmoid(f) * c_0 + sigmoid(i) * np.tanh(g)
h_1 = sigmoid(o) * np.tanh(c_1)
# END SOLUTION
ex.check_array("4.1", [c_1, h_1], [tensors["c_1"].data, tensors["h_1"].data], what="[c_1, h_1]",
               hint="split the 4H pre-activations into i, f, g, o; σ for the gates, tanh for g and for c_1")

# %% [markdown]
# ## The cell-state path
#
# `c_2` is used twice: in `c_3 = f_3 ⊙ c_2 + ...` (the cell-state path) and in `h_2 = o_2 ⊙ tanh(c_2)` (which
# feeds the gates of step 3). The backward walk sends a gradient along each of the two edges, and the
# gradient at `c_2` is their sum.

# %%
f_c = tensors["c_3"].node.inputs[0]                # the product f_3 ⊙ c_2, the first term of c_3
along_cell_path = f_c.node.input_grads[1]           # what the walk sent to c_2 along that product
print("∂loss/∂c_2, all paths:         ", tensors["c_2"].node.grad)
print("  of which along the cell path:", along_cell_path)

# %% [markdown]
# ### Exercise 4.2 — one step back along the cell state
# From the gradient that arrived at `c_3` and the forget gate `f_3`, compute the part of `∂loss/∂c_2` that
# comes straight along the cell-state path. The check compares it with the gradient the walk sent along
# that edge.

# %% tags=["exercise"]
grad_c_3 = tensors["c_3"].node.grad                # ∂loss/∂c_3
f_3 = tensors["f_3"].data
cell_path_c_2 = ...     # your answer: a (1, 3) array
# BEGIN SOLUTION
cell_path_c_2 = grad_c_3 * f_3
# END SOLUTION
ex.check_array("4.2", cell_path_c_2, along_cell_path, what="the cell-path part of ∂loss/∂c_2",
               hint="c_3 = f_3 ⊙ c_2 + ...: the local derivative with respect to c_2 is f_3, elementwise")

# %% [markdown]
# Along the cell state alone, `k` steps back multiply the gradient by `f_t ⊙ f_(t-1) ⊙ ...`: with gates
# near σ(0) = 0.5 that halves at every step, about as fast as a tanh-RNN loses its gradient. A positive
# forget-gate bias at initialisation opens the gate, and the path carries the gradient far back.

# %%
print("mean forget gate at initialisation:", np.mean([tensors[f"f_{t}"].data for t in range(1, T + 1)]).round(3))
flows = tg.flow.gradient_flow(steps=30, models=("lstm", "lstm:forget_bias=3"), hidden_size=8)
print(tg.flow.format_table(flows).split("\n\n")[1])

# %% [markdown]
# ### Exercise 4.3 — open the gate
# Choose a value to add to the forget gate's biases (the `f` block of `bias_hh_l0`, rows `H..2H`) so that the
# mean forget gate over 20 steps of random input is above 0.9. The check runs the LSTM with your value.

# %% tags=["exercise"]
forget_bias = ...      # your answer: a number
# BEGIN SOLUTION
forget_bias = 3.0
# END SOLUTION


def mean_forget_gate(bias, steps=20):
    tg.manual_seed(0)
    layer = tg.LSTM(I, H, dtype=np.float64)
    layer.bias_hh_l0.data[H:2 * H] += bias
    out, _ = layer(np.random.default_rng(1).uniform(-1, 1, (steps, 1, I)))
    named = named_tensors(out.sum())
    return float(np.mean([named[f"f_{t}"].data for t in range(1, steps + 1)]))


ex.check_true("4.3", forget_bias, lambda b: mean_forget_gate(b) > 0.9,
              "with your bias the mean forget gate is above 0.9", what="a number",
              hint="σ(z) > 0.9 needs z > ln 9 ≈ 2.2; the other terms of the pre-activation are small")

# %% [markdown]
# ## GRU: one state, the same idea
#
# A GRU interpolates between the old state and a candidate (PyTorch's conventions, which `tg.GRU` follows):
#
# $$
# \begin{aligned}
# r_t &= \sigma(\cdots) \quad \text{reset gate} \qquad z_t = \sigma(\cdots) \quad \text{update gate} \\
# n_t &= \tanh\big(x_t W_{in}^\top + b_{in} + r_t \odot (h_{t-1} W_{hn}^\top + b_{hn})\big) \\
# h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}
# \end{aligned}
# $$
#
# The term $z_t \odot h_{t-1}$ is a direct path like the LSTM's cell state: one step back along it multiplies
# the gradient by $z_t$.

# %%
tg.manual_seed(0)
gru = tg.GRU(I, H, dtype=np.float64)
gout, g_n = gru(xs)
gloss = (gout[-1] * gout[-1]).sum()
gloss.backward(keep_grads=True)
gtensors = named_tensors(gloss)
for t in range(1, T + 1):
    print(f"t={t}: " + "  ".join(f"{g}={gtensors[f'{g}_{t}'].data[0]}" for g in "rzn"))

# %% [markdown]
# ### Exercise 4.4 — the GRU's update
# From the tape's `z_2`, `n_2` and `h_1`, compute `h_2`. The check compares it with the tape's `h_2`.

# %% tags=["exercise"]
z_2, n_2, h_1 = (gtensors[name].data for name in ("z_2", "n_2", "h_1"))
h_2 = ...              # your answer: a (1, 3) array
# BEGIN SOLUTION
h_2 = (1 - z_2) * n_2 + z_2 * h_1
# END SOLUTION
ex.check_array("4.4", h_2, gtensors["h_2"].data, what="h_2",
               hint="z_t weighs the old state; 1 − z_t the candidate")

# %% [markdown]
# ### Exercise 4.5 — what a closed gate does
# Suppose, at every step, an LSTM's forget gate is exactly 1 and its input gate exactly 0. What is
# `∂c_T/∂c_1` along the cell-state path? Answer `"zero"`, `"identity"` or `"it depends on W_hh"`.

# %% tags=["exercise"]
closed_gate = ...      # your answer: "zero", "identity" or "it depends on W_hh"
# BEGIN SOLUTION
closed_gate = "identity"      # c_t = c_(t-1) at every step: the cell state, and its gradient, pass unchanged
# END SOLUTION
ex.check_choice("4.5", closed_gate, ["zero", "identity", "it depends on W_hh"], "ab211ca0b2c9",
                hint="each step back multiplies by f_t, elementwise")

# %% [markdown]
# ## Your score

# %%
ex.score("4.1", "4.2", "4.3", "4.4", "4.5")
