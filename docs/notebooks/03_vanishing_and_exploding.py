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
# # 3. Vanishing and exploding gradients, and clipping
#
# In formula (2) the term for a use of `W_s` at step k carries a product of one-step Jacobians, one per step
# it travels back:
#
# $$
# \frac{\partial E_3}{\partial y_3} \frac{\partial y_3}{\partial s_3}
# \underbrace{\frac{\partial s_3}{\partial s_2} \cdots \frac{\partial s_{k+1}}{\partial s_k}}_{3 - k \text{ Jacobians}}
# \frac{\partial s_k}{\partial W_s},
# \qquad
# \frac{\partial s_t}{\partial s_{t-1}} = \operatorname{diag}\big(1 - s_t^2\big)\, W_s^\top
# \text{ (tanh, row vectors)}.
# $$
# Over a long sequence that product shrinks or grows
# geometrically. This notebook measures it on the tape: first one Jacobian of the seed's network, then the
# whole flow over 30 steps for tanh-RNN, relu-RNN, LSTM and GRU, what clipping does to an explosion, and when
# relu helps (the identity-initialised relu-RNN, IRNN) and when it does not.

# %%
import numpy as np

import tinygrad_rnn as tg
import viz.plots
from tinygrad_rnn.teach import exercises as ex
from tinygrad_rnn.teach.seed import three_step_network

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## One step back: a Jacobian
#
# With row vectors, $s_t = \tanh(a_t)$ and $a_t = x_t W_x + s_{t-1} W_s$, the Jacobian of one step is a
# $3 \times 3$ matrix. `tg.jacobian(output, wrt)` builds it from the tape, one backward walk per output element.

# %%
E_3, net = three_step_network(phi="tanh", seed=0)
J_32 = tg.jacobian(net["s_3"], net["s_2"])           # J[i, j] = ∂s_3[i] / ∂s_2[j]
J_31 = tg.jacobian(net["s_3"], net["s_1"])
print("∂s_3/∂s_2 =\n", J_32)
print("largest singular values: ∂s_3/∂s_2", np.linalg.norm(J_32, 2).round(4),
      "  ∂s_3/∂s_1", np.linalg.norm(J_31, 2).round(4))

# %% [markdown]
# ### Exercise 3.1 — the one-step Jacobian by hand
# Write $\partial s_3/\partial s_2$ with numpy from `s_3` and `W_s`, in the layout above
# (`J[i, j] = ∂s_3[i]/∂s_2[j]`). Then check with the product rule that
# $\frac{\partial s_3}{\partial s_1} = \frac{\partial s_3}{\partial s_2} \frac{\partial s_2}{\partial s_1}$
# (the check does that for you).

# %% tags=["exercise"]
s_3, s_2, W_s = net["s_3"].data, net["s_2"].data, net["W_s"].data
J_hand = ...        # your answer: a 3 x 3 array
# BEGIN SOLUTION
J_hand = np.diag(1 - s_3 ** 2) @ W_s.T
# END SOLUTION
ex.check_array("3.1", J_hand, J_32, what="∂s_3/∂s_2",
               hint="∂a_3/∂s_2 is W_sᵀ in this layout; tanh multiplies row i by 1 − s_3[i]²")
assert np.allclose(J_31, J_32 @ tg.jacobian(net["s_2"], net["s_1"]))

# %% [markdown]
# ## Thirty steps back
#
# `tg.flow.gradient_flow` runs each model over T steps on the same inputs, with a loss that reads only the
# last state, and reads off the tape how much gradient arrives at each state `‖∂E_T/∂s_t‖`, the size of
# the product of Jacobians `‖∂s_T/∂s_k‖`, and the term each step adds to `∂E_T/∂W_hh`, before and after
# clipping. The last three models are deliberately set up: a relu-RNN whose recurrent matrix has spectral
# radius 3, an LSTM whose forget gate starts open, and an IRNN: a relu-RNN with `W_hh = I` and zero biases.

# %%
flows = tg.flow.gradient_flow(steps=30, models=("tanh", "relu", "lstm", "gru", "relu:rho=3",
                                                "lstm:forget_bias=3", "irnn"), hidden_size=8)
print(tg.flow.format_table(flows))

# %%
viz.plots.gradient_flow(flows);

# %% [markdown]
# The same products for every pair of steps: the influence `‖∂s_t/∂s_k‖` of the state at step k on the state
# at a later step t (white: kept, blue: vanishing, red: exploding).

# %%
viz.plots.gradient_flow_heatmap([flows[0], flows[5], flows[4]]);   # tanh, LSTM with the open gate, relu rho=3

# %% [markdown]
# ### Exercise 3.2 — how much arrives 30 steps back?
# For the tanh-RNN (first row), how does `‖∂E_T/∂s_1‖` compare with `‖∂E_T/∂s_30‖`? Answer
# `"larger"`, `"within 10x"` or `"smaller"` (by more than 10x), and explain to your neighbour why from the
# Jacobian of exercise 3.1.

# %% tags=["exercise"]
tanh_answer = ...    # your answer: "larger", "within 10x" or "smaller"
# BEGIN SOLUTION
tanh_answer = "smaller"
# END SOLUTION
tanh_rnn = flows[0]
ratio = tanh_rnn.state_grad[0] / tanh_rnn.state_grad[-1]
measured = "larger" if ratio > 10 else "smaller" if ratio < 0.1 else "within 10x"
ex.check_true("3.2", tanh_answer, lambda a: str(a).strip().lower() == measured,
              "your answer matches the ratio ‖∂E_T/∂s_1‖ / ‖∂E_T/∂s_30‖ measured on the tape",
              what='"larger", "within 10x" or "smaller"',
              hint="each step back multiplies by diag(1 − s_t²) W_hhᵀ, whose largest singular value is below 1 here")

# %% [markdown]
# ## Clipping
#
# After the backward pass, `tg.clip_grad_norm(params, max_norm)` measures the norm of *all* the gradients
# together and, when it is above `max_norm`, multiplies every gradient by `max_norm / norm`. The direction of
# the update stays; its length is capped. Look at the relu-RNN with `rho=3` in the table: every term is
# scaled by the same tiny factor.

# %%
w = tg.Tensor(np.array([3.0, 4.0]), requires_grad=True)
(w * w).sum().backward()                            # gradient 2w = (6, 8), norm 10
print("norm before:", tg.clip_grad_norm([w], max_norm=1.0), "  gradient after:", w.grad)

# %% [markdown]
# ### Exercise 3.3 — clipping by hand
# Write `clip(grads, max_norm)`: it takes a list of numpy arrays and returns the list clipped as
# `tg.clip_grad_norm` clips (one norm over all of them; unchanged when it is at most `max_norm`). The check
# compares it with `tg.clip_grad_norm` on a large and on a small gradient.

# %% tags=["exercise"]
clip = ...          # your answer: a function
# BEGIN SOLUTION
def clip(grads, max_norm):
    total = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    scale = min(1.0, max_norm / total) if total > 0 else 1.0
    return [g * scale for g in grads]
# END SOLUTION


def clipped_by_the_library(arrays, max_norm):
    params = [tg.Tensor(np.zeros_like(a), requires_grad=True) for a in arrays]
    for p, a in zip(params, arrays):
        p.grad = a.copy()
    tg.clip_grad_norm(params, max_norm)
    return [p.grad for p in params]


rng = np.random.default_rng(3)
cases = {"a large gradient (to be scaled down)": ([rng.normal(size=(4, 4)) * 50, rng.normal(size=4) * 50], 1.0),
         "a small gradient (to be left as it is)": ([rng.normal(size=(2, 3)) * 0.01], 5.0)}


def agrees_with_the_library(f):
    for case, (grads, max_norm) in cases.items():
        if not all(np.allclose(a, b) for a, b in zip(f(grads, max_norm), clipped_by_the_library(grads, max_norm))):
            print("your clip differs from tg.clip_grad_norm on", case)
            return False
    return True


ex.check_true("3.3", clip, agrees_with_the_library,
              "your clip agrees with tg.clip_grad_norm on a large and a small gradient", what="a function",
              hint="one norm for all the arrays together: the square root of the sum of every squared entry")

# %% [markdown]
# ### Exercise 3.4 — on the edge
# A relu unit passes the gradient unchanged where it is active, so for a relu-RNN the recurrent matrix
# decides alone: `rho=3` explodes, the default init (above) vanishes. Find a spectral radius `rho` for which
# the gradient changes by at most 10x over 30 steps: `0.1 ≤ ‖∂E_T/∂s_1‖ / ‖∂E_T/∂s_30‖ ≤ 10`.
# Try values with `tg.flow.measure(f"relu:rho={rho}", steps=30, hidden_size=8)`.

# %% tags=["exercise"]
rho = ...           # your answer: a number
# BEGIN SOLUTION
rho = 1.35
# END SOLUTION


def relu_ratio(rho):
    f = tg.flow.measure(f"relu:rho={rho}", steps=30, hidden_size=8)
    return f.state_grad[0] / f.state_grad[-1]


ex.check_true("3.4", rho, lambda r: 0.1 <= relu_ratio(r) <= 10,
              "with your rho the relu-RNN's gradient changes by at most 10x over 30 steps", what="a number",
              hint="the default init gives about 1e-12 and rho=3 about 1e10: look in between, above 1 "
                   "(about half the relu units are off at any step)")

# %% [markdown]
# ### When relu helps, and when it does not
#
# The seed says relu largely solves the vanishing gradient *given a good initialisation*; both halves matter.
# relu's derivative is 1 where a unit is on and 0 where it is off, so the activation no longer shrinks the
# gradient and `W_hh` alone decides. At PyTorch's default init (`U(±1/√H)`, spectral radius below 1) about
# half the units are off at each step, and the relu-RNN vanishes *faster* than the tanh-RNN; at `rho=3` it
# explodes. The IRNN (Le, Jaitly and Hinton, 2015: `W_hh = I`, zero biases, small input weights) is the good
# initialisation: an active unit passes its gradient through unchanged, `‖∂s_T/∂s_1‖ = 1`, and 30 steps back
# the gradient is still of the order of the last step's. The numbers, measured on the tape above:

# %%
by_spec = {f.spec: f for f in flows}
for spec in ("tanh", "relu", "relu:rho=3", "irnn"):
    f = by_spec[spec]
    print(f"{f.label:<24} ‖∂E_T/∂s_1‖ = {f.state_grad[0]:8.1e}   ‖∂E_T/∂s_30‖ = {f.state_grad[-1]:8.1e}"
          f"   ‖∂s_30/∂s_1‖ = {f.jacobian[0]:8.1e}")
assert by_spec["relu"].state_grad[0] < by_spec["tanh"].state_grad[0]           # default init: relu vanishes faster
assert by_spec["irnn"].state_grad[0] > 0.1 * by_spec["irnn"].state_grad[-1]   # identity init: the gradient arrives

# %% [markdown]
# ### Exercise 3.5 — which model keeps a long memory?
# Of the four models at their default initialisation (`"tanh"`, `"relu"`, `"lstm"`, `"gru"`), which one
# delivers the largest gradient `‖∂E_T/∂s_1‖` 30 steps back? (Then, for your neighbour: what does the fix in
# the row `LSTM (forget bias +3)` change?)

# %% tags=["exercise"]
longest_memory = ...   # your answer: "tanh", "relu", "lstm" or "gru"
# BEGIN SOLUTION
longest_memory = "lstm"
# END SOLUTION
at_default = {f.spec: f.state_grad[0] for f in flows[:4]}
ex.check_true("3.5", longest_memory, lambda m: str(m).strip().lower() == max(at_default, key=at_default.get),
              "your model delivers the largest ‖∂E_T/∂s_1‖ of the four", what='"tanh", "relu", "lstm" or "gru"',
              hint="look at the t=1 column of the first table")

# %% [markdown]
# Clipping multiplies every term by the same number: it tames an explosion but cannot bring back a term
# that has already vanished. For that the network itself has to change — notebook 4 looks at the gates
# that do it.
#
# ## Your score

# %%
ex.score("3.1", "3.2", "3.3", "3.4", "3.5")
