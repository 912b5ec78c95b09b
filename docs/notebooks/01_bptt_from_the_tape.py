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
# # 1. Backpropagation through time, read off the tape
#
# The seed's three-step network, in its own notation (row vectors, `x W`):
#
# $$
# \begin{aligned}
# s_t &= \tanh(x_t W_x + s_{t-1} W_s), \qquad t = 1, 2, 3 \\
# y_3 &= s_3 W_y \\
# E_3 &= \tfrac{1}{2} \lVert y_3 - d_3 \rVert^2
# \end{aligned}
# $$
#
# The same two matrices `W_x` and `W_s` are used at every step. Backpropagation through time (BPTT) is the
# chain rule applied to that unrolled graph, and nothing in tinygrad-rnn writes it down: the forward pass
# records every operation on a tape, and `backward()` walks the tape in reverse. In this notebook you read
# the seed's formulas (1)-(3) off that walk, watch it one node at a time in the player, and then compute
# some of its numbers yourself. Every exercise is checked against the tape's own numbers.
#
# **How the exercises work.** Replace each `...` with your answer and run the cell. A check prints
# `✔ correct` or stops with `✘ not yet` and says which number differs.

# %%
import numpy as np

import tinygrad_rnn as tg
import viz
from tinygrad_rnn.teach import exercises as ex
from tinygrad_rnn.teach.seed import three_step_network

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## The network
#
# `three_step_network(seed=0)` builds the network from a random seed and returns the loss `E_3` and every
# named tensor: the inputs `x_1..x_3`, the target `d_3`, the states `s_0..s_3`, the output `y_3` and the
# weights.

# %%
E_3, net = three_step_network(phi="tanh", seed=0)
for name in ["x_1", "x_2", "x_3", "s_0", "s_1", "s_2", "s_3", "y_3", "d_3", "E_3"]:
    print(f"{name:4s}", net[name].data)
W_x, W_s, W_y = (net[n].data for n in ("W_x", "W_s", "W_y"))
print("shapes: W_x", W_x.shape, " W_s", W_s.shape, " W_y", W_y.shape)

# %% [markdown]
# The tape, drawn. Each box is a time step. `W_s` is one tensor, used at all three steps: each step shows it
# as a dashed copy, so that every step is laid out the same way. (`shared="edges"` draws it once, with an
# edge to each use; the steps are then joined, and graphviz may place them out of order.)

# %%
viz.draw(E_3, grads=False)

# %% [markdown]
# ## Formulas (1)-(3)
#
# `W_y` is used once, so its gradient is a two-factor chain (formula (1)):
#
# $$
# \frac{\partial E_3}{\partial W_y} = \frac{\partial E_3}{\partial y_3} \frac{\partial y_3}{\partial W_y}
# \qquad \text{(1)}
# $$
#
# `W_s` is used three times, and the chain rule for a quantity used several times adds one term per use
# (formula (2)); the term for the use at step k travels back through `3 − k` more steps:
#
# $$
# \begin{aligned}
# \frac{\partial E_3}{\partial W_s}
#   &= \frac{\partial E_3}{\partial y_3} \frac{\partial y_3}{\partial s_3} \frac{\partial s_3}{\partial W_s}
#      && \text{(use at } t = 3\text{)} \\
#   &+ \frac{\partial E_3}{\partial y_3} \frac{\partial y_3}{\partial s_3} \frac{\partial s_3}{\partial s_2}
#      \frac{\partial s_2}{\partial W_s} && \text{(use at } t = 2\text{)} \\
#   &+ \frac{\partial E_3}{\partial y_3} \frac{\partial y_3}{\partial s_3} \frac{\partial s_3}{\partial s_2}
#      \frac{\partial s_2}{\partial s_1} \frac{\partial s_1}{\partial W_s} && \text{(use at } t = 1\text{)}
# \end{aligned} \qquad \text{(2)}
# $$
#
# Formula (3) is the same with `W_x`. The last factor `∂s_k/∂W_s` is the *immediate* derivative: `s_(k-1)`
# held fixed. On the tape, `W_s` has three edges into the graph, and the backward walk sends one gradient
# along each: those three gradients *are* the three terms. `tg.bptt.seed_formulas` runs the walk and picks
# them up, labelled with their time steps.

# %%
formulas = tg.bptt.seed_formulas(E_3, net)          # runs the backward walk: the weights get their .grad
print(tg.bptt.format_formulas(formulas, loss=E_3.item()))

# %% [markdown]
# The same formulas rendered: each term's chain of factors, and its value, the gradient the walk sent along
# that edge.

# %%
for f in formulas:
    display(f)

# %%
for f in formulas:
    assert np.allclose(f.total, net[f.weight].grad)      # the terms add up to W.grad
    print(f"({f.number}) {f.lhs}: {len(f.terms)} term(s), norms",
          [round(float(np.linalg.norm(term.value)), 4) for term in f.terms])

# %% [markdown]
# ## The walk, one node at a time
#
# The player runs the same backward walk and shows it step by step: the node being visited, the gradient
# that arrived at it, the op's rule, and the contribution sent to each input. Press **next** (or the arrow
# keys) and watch `W_s` receive its three contributions, one per time step; click a term in the leaves table to
# see its chain of edges, or a vertex to jump to its step. Tick **forward** to watch the values flow forward
# first, and **quiz** to answer questions about each step before it is shown.

# %%
E_play, net_play = three_step_network(phi="tanh", seed=0)     # a fresh graph: the walk above freed the old one
viz.player(E_play, names={n: net_play[n] for n in ("W_x", "W_s", "W_y")}, title="The seed's three-step network")

# %% [markdown]
# ## Exercises
#
# Useful facts: with `E_3 = ½ ‖y_3 − d_3‖²`, the gradient at the output is `∂E_3/∂y_3 = y_3 − d_3`.
# A gradient `g` arriving at `y = s W` goes back to `s` as `g Wᵀ` (`g @ W.T`) and to `W` as the outer product
# `sᵀ g` (`np.outer(s, g)` for the seed's 1-D rows). Through `s = tanh(a)` it is multiplied by `1 − s²`.
#
# ### Exercise 1.1 — formula (1)
# Compute `∂E_3/∂W_y` with numpy from `s_3`, `y_3` and `d_3`. It is checked against `W_y.grad`.

# %% tags=["exercise"]
s = {t: net[f"s_{t}"].data for t in range(4)}
dE_dy = net["y_3"].data - net["d_3"].data
dE_dW_y = ...      # your answer: an array of W_y's shape
# BEGIN SOLUTION
dE_dW_y = np.outer(s[3], dE_dy)
# END SOLUTION
ex.check_array("1.1", dE_dW_y, net["W_y"].grad, what="∂E_3/∂W_y",
               hint="W_y is used once, in y_3 = s_3 W_y: the outer product of s_3 and ∂E_3/∂y_3")

# %% [markdown]
# ### Exercise 1.2 — the gradient at the pre-activation `a_3`
# Write `a_3 = x_3 W_x + s_2 W_s`, so `s_3 = tanh(a_3)`. Compute `g_3 = ∂E_3/∂a_3` from `∂E_3/∂y_3`. The tape
# keeps it on the edge from `s_3`'s tanh node to its input: `net["s_3"].node.input_grads[0]`.

# %% tags=["exercise"]
g_3 = ...          # your answer: a row of 3 numbers
# BEGIN SOLUTION
g_3 = (dE_dy @ W_y.T) * (1 - s[3] ** 2)
# END SOLUTION
ex.check_array("1.2", g_3, net["s_3"].node.input_grads[0], what="∂E_3/∂a_3",
               hint="back through y_3 = s_3 W_y (multiply by W_yᵀ), then through tanh (multiply by 1 − s_3²)")

# %% [markdown]
# ### Exercise 1.3 — the t=1 term of formula (2)
# Start from `g_3 = ∂E_3/∂a_3` (given, from the tape) and carry the gradient two more steps back (through
# `s_2 W_s` and `tanh`, then through `s_1 W_s` and `tanh`)
# and form the share of `W_s` used at t=1. Compare with the term the walk sent along the edge into `W_s`
# at t=1.

# %% tags=["exercise"]
g_3 = net["s_3"].node.input_grads[0]       # ∂E_3/∂a_3, read off the tape (exercise 1.2)
term_t1 = ...      # your answer: an array of W_s's shape
# BEGIN SOLUTION
g_2 = (g_3 @ W_s.T) * (1 - s[2] ** 2)
g_1 = (g_2 @ W_s.T) * (1 - s[1] ** 2)
term_t1 = np.outer(s[0], g_1)
# END SOLUTION
W_s_terms = {term.t: term.value for term in formulas[1].terms}
ex.check_array("1.3", term_t1, W_s_terms[1], what="the t=1 term of ∂E_3/∂W_s",
               hint="the use at t=1 is s_0 W_s: the term is the outer product of s_0 and ∂E_3/∂a_1")

# %% [markdown]
# ### Exercise 1.4 — how many terms?
# The seed's network works for any number of steps: `three_step_network` is the case T = 3, and
# `tg.seed.ThreeStepRNN` takes T inputs. For T = 5, how many terms does formula (3), `∂E_5/∂W_x`, have?
# The check builds a 5-step network and counts the contributions the walk adds into `W_x`.

# %% tags=["exercise"]
terms_for_T5 = ...   # your answer: a whole number
# BEGIN SOLUTION
terms_for_T5 = 5
# END SOLUTION
tg.manual_seed(0)
rnn5 = tg.seed.ThreeStepRNN(2, 3, 1, dtype=np.float64)
out5 = rnn5(np.random.default_rng(1).uniform(0, 1, (5, 2)), np.array([0.5]))
walked = tg.Stepper(out5["E_5"], names={"W_x": rnn5.W_x}).run()
counted = sum(1 for step in walked for acc in step.accumulations if acc.name == "W_x")
ex.check_number("1.4", terms_for_T5, counted, what="the number of terms of ∂E_5/∂W_x",
                hint="one term per use of W_x")

# %% [markdown]
# ### Exercise 1.5 — a term that is exactly zero
# PyTorch starts a recurrent layer from `s_0 = 0`. Then one term of formula (2) is exactly zero, whatever
# the weights. Which time step's term is it? (Think before you run the network with `s_0="zeros"`.)

# %% tags=["exercise"]
zero_term_t = ...   # your answer: 1, 2 or 3
# BEGIN SOLUTION
zero_term_t = 1
# END SOLUTION
E_z, net_z = three_step_network(phi="tanh", seed=0, s_0="zeros")
zero_terms = [term.t for term in tg.bptt.seed_formulas(E_z, net_z)[1].terms if not np.any(term.value)]
ex.check_true("1.5", zero_term_t, lambda t: [t] == zero_terms,
              "your step's term of ∂E_3/∂W_s is the one that is exactly zero when s_0 = 0", what="1, 2 or 3",
              hint="the immediate derivative ∂s_k/∂W_s is built from the state W_s multiplies at step k")

# %% [markdown]
# ## Your score

# %%
ex.score("1.1", "1.2", "1.3", "1.4", "1.5")
