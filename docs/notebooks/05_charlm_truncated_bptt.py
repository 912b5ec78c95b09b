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
# # 5. Training a character model with truncated BPTT
#
# A character-level language model reads a text one character at a time and predicts the next one. The text
# is long, far longer than we want one backward pass to walk. *Truncated* BPTT reads it in chunks of
# `seq_len` characters: the state flows on from chunk to chunk (so the model keeps its memory), but it is
# detached at each chunk's end, so every backward pass covers only the last chunk. In this notebook you
# write that loop, watch the loss fall and the samples improve, and check what the detach does to the tape.
#
# The model is `tinygrad_rnn.tasks.CharLM` (embedding → LSTM → linear); `tasks.train_charlm` and
# `examples/charlm.py` run the same loop (`python3 examples/charlm.py --steps 600` for a longer run).

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import tasks
from tinygrad_rnn.corpus import TEXT
from tinygrad_rnn.teach import exercises as ex

print(len(TEXT), "characters;", len(set(TEXT)), "different ones. It begins:\n")
print(TEXT[:300])

# %% [markdown]
# ## The data: parallel streams
#
# The text is cut into `batch` equal parts, read side by side: column `b` of `streams` is part `b`, so one row
# holds `batch` characters from different places in the text. A chunk is `seq_len + 1` consecutive rows: the
# model reads the first `seq_len` and predicts each next one.

# %%
tg.manual_seed(0)
batch, seq_len, hidden = 8, 16, 48
model = tasks.CharLM(sorted(set(TEXT)), hidden_size=hidden, model="lstm")
codes = model.encode(TEXT)
n = len(codes) // batch
streams = codes[:n * batch].reshape(batch, n).T               # (n, batch)
print("streams:", streams.shape, "  vocabulary:", len(model.vocab), "characters")
print("the first chunk's first column reads:", repr("".join(model.vocab[c] for c in streams[:seq_len + 1, 0])))

# %% [markdown]
# ## One chunk, and what the detach does
#
# `logits, state = model(chunk[:-1], state)` runs the LSTM over the chunk, starting from the state the last
# chunk left. Its loss is the cross-entropy of the predicted next characters. Before the next chunk, the
# state is *detached*: the same numbers, but no history on the tape.

# %%
def chunk_loss(model, chunk, state):
    logits, state = model(chunk[:-1], state)
    loss = tg.cross_entropy(logits.reshape(-1, len(model.vocab)), chunk[1:].reshape(-1))
    return loss, state


def steps_on_tape(loss):
    """The time steps the backward pass of `loss` walks through (the layer's scopes t=1, 2, ...)."""
    return len({part for node in tg.graph(loss) for part in node.scope if part.startswith("t=")})


loss, state = chunk_loss(model, streams[:seq_len + 1], None)
print("loss of the first chunk:", round(loss.item(), 4), " time steps on its tape:", steps_on_tape(loss))

# %% [markdown]
# ### Exercise 5.1 — the one line of truncated BPTT
# Write `carry(state)`: what the next chunk should start from, given the `state` (an LSTM pair `(h, c)`) the
# last chunk ended with. The check trains on three chunks with your `carry`: each backward pass must walk only
# its own chunk's `seq_len` steps, and each chunk must start from the numbers the last one ended with.
# (What happens if `carry` returns the state unchanged? Try it.)

# %% tags=["exercise"]
carry = ...            # your answer: a function of the state
# BEGIN SOLUTION
def carry(state):
    return tg.detach_state(state)
# END SOLUTION


def truncation_works(carry):
    tg.manual_seed(0)
    m = tasks.CharLM(sorted(set(TEXT)), hidden_size=hidden, model="lstm")
    opt, state = tg.optim.Adam(m.parameters(), lr=3e-3), None
    for k in range(3):
        loss, end = chunk_loss(m, streams[k * seq_len: (k + 1) * seq_len + 1], state)
        steps = steps_on_tape(loss)
        if steps != seq_len:
            print(f"chunk {k + 1}'s backward would walk {steps} steps, not its own {seq_len}: the state it "
                  "started from still carries the last chunk's graph")
            return False
        opt.zero_grad()
        try:
            loss.backward()
        except tg.GraphError as err:          # walking back into the last chunk's freed graph
            print("backward failed:", err)
            return False
        opt.step()
        state = carry(end)
        if state is None or not all(np.array_equal(a.data, b.data) for a, b in zip(state, end)):
            return False
    return True


ex.check_true("5.1", carry, truncation_works,
              "with your carry every backward walks only its own chunk, and the state flows on",
              what="a function", hint="tg.detach_state cuts a state (or an (h, c) pair) from the graph")

# %% [markdown]
# ## Training
#
# The whole loop: a chunk, its loss, backward, the seed's clipping, an Adam step, and the detach. At the end
# of the text it starts again from a fresh state. 300 steps of this small model take a few seconds.

# %%
tg.manual_seed(0)
model = tasks.CharLM(sorted(set(TEXT)), hidden_size=hidden, model="lstm")
opt = tg.optim.Adam(model.parameters(), lr=3e-3)
losses, state, pos = [], None, 0
for step in range(1, 301):
    if pos + seq_len + 1 > len(streams):
        state, pos = None, 0
    loss, state = chunk_loss(model, streams[pos: pos + seq_len + 1], state)
    opt.zero_grad()
    loss.backward()
    tg.clip_grad_norm(model.parameters(), 5.0)
    opt.step()
    state = tg.detach_state(state)                  # truncated BPTT
    losses.append(loss.item())
    pos += seq_len
    if step in (1, 100, 300):
        print(f"after {step:3d} steps, loss {np.mean(losses[-10:]):.3f}:", repr(model.sample("The ", 60)))

# %%
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(losses)
ax.set(xlabel="training step (one chunk each)", ylabel="cross-entropy (nats/char)", title="Training loss")
ax.grid(alpha=0.3)

# %% [markdown]
# ### Exercise 5.2 — what does "learned something" mean?
# A model with no memory at all can still learn how often each character occurs; its loss is then the
# entropy of the character frequencies, `−Σ p_c ln p_c` (in nats). Compute it for `TEXT`. The check compares
# it with the baseline `tasks.train_charlm` reports; the model above should be below it.

# %% tags=["exercise"]
unigram_entropy = ...   # your answer: a number (nats per character)
# BEGIN SOLUTION
counts = np.bincount(model.encode(TEXT))
p = counts[counts > 0] / len(TEXT)
unigram_entropy = float(-(p * np.log(p)).sum())
# END SOLUTION
baseline = tasks.train_charlm(steps=1, batch=batch, seq_len=seq_len, hidden=8, sample_every=0).baseline
ex.check_number("5.2", unigram_entropy, baseline, what="the entropy of the character frequencies",
                source="train_charlm's baseline", hint="count each character, divide by the length of the text, then −Σ p ln p")
print(f"final training loss {np.mean(losses[-30:]):.3f} vs the memoryless baseline {baseline:.3f}")

# %% [markdown]
# ### Exercise 5.3 — the loss of knowing nothing
# A model whose logits are all zero gives every character of the vocabulary the same probability. What is
# its cross-entropy loss, in nats per character? The check computes it on the tape with `tg.cross_entropy`.
# `exp(loss)` is the *perplexity*, the number of equally likely characters the model is choosing between:
# compare it with the untrained model's first loss above, and with the trained one's.

# %% tags=["exercise"]
V = len(model.vocab)
loss_knowing_nothing = ...   # your answer: a number
# BEGIN SOLUTION
loss_knowing_nothing = float(np.log(V))
# END SOLUTION
uniform = tg.cross_entropy(tg.Tensor(np.zeros((seq_len, V))), streams[1:seq_len + 1, 0]).item()
ex.check_number("5.3", loss_knowing_nothing, uniform, what="the loss of uniform predictions",
                hint="every target gets probability 1/V, and the loss is −ln of that probability")
print(f"perplexity: uniform {np.exp(uniform):.1f}, untrained model {np.exp(losses[0]):.1f}, "
      f"after training {np.exp(np.mean(losses[-30:])):.1f}")

# %% [markdown]
# ## Your score

# %%
ex.score("5.1", "5.2", "5.3")
