"""Small tasks on which recurrent networks visibly learn: a character-level language model, and the adding
problem and the copy task, which test memory over a chosen number of steps.

Each `train_*` function runs one training run and returns a TrainResult; `on_step(step, steps, loss)` is
called after every step (for a progress bar) and `on_sample(step, text)` whenever the language model
samples. All randomness (init, data, sampling) comes from `seed`, through tinygrad_rnn.manual_seed.
Models are trained with Adam and the seed's clipping (clip_grad_norm); gradients come from the tape.
"""
import time
from dataclasses import dataclass, field

import numpy as np

from .core import rng as shared_rng
from .core.functional import cross_entropy, mse_loss
from .nn import Embedding, Linear, Module, check_size
from .optim import Adam, clip_grad_norm
from .rnn import GRU, LSTM, RNN, detach_state
from .core.mode import no_grad
from .core.tensor import get_default_dtype

MODELS = ("lstm", "gru", "rnn-tanh", "rnn-relu")
LABELS = {"lstm": "LSTM", "gru": "GRU", "rnn-tanh": "tanh-RNN", "rnn-relu": "relu-RNN"}


def make_rnn(model, input_size, hidden_size, num_layers=1, forget_bias=1.0, **kwargs):
    """'lstm' | 'gru' | 'rnn-tanh' | 'rnn-relu' -> the recurrent layer.

    An LSTM starts with its forget-gate biases summing to `forget_bias` (1 is the usual practice,
    Jozefowicz et al. 2015): the gate starts mostly open, so the cell remembers from the first step.
    PyTorch's plain init (forget_bias=None) leaves it near 0.5, and memory then halves at every step.
    """
    if model == "lstm":
        lstm = LSTM(input_size, hidden_size, num_layers, **kwargs)
        if forget_bias is not None and lstm.bias:
            H = hidden_size
            for k in range(num_layers):                     # gate order i, f, g, o: f is rows H..2H
                getattr(lstm, f"bias_ih_l{k}").data[H:2 * H] = forget_bias / 2
                getattr(lstm, f"bias_hh_l{k}").data[H:2 * H] = forget_bias / 2
        return lstm
    if model == "gru":
        return GRU(input_size, hidden_size, num_layers, **kwargs)
    if model in ("rnn-tanh", "rnn-relu"):
        return RNN(input_size, hidden_size, num_layers, nonlinearity=model[4:], **kwargs)
    raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")


@dataclass
class TrainResult:
    task: str
    model: str
    seq_len: int
    steps: int
    losses: list                 # training loss after every step
    metric: str                  # what `score` measures, e.g. "test MSE" or "accuracy"
    score: float                 # measured on fresh data after training
    baseline: float              # the score of a model that learned nothing
    learned: bool
    seconds: float
    samples: list = field(default_factory=list)     # (step, text) for the language model

    def summary(self):
        first, last = np.mean(self.losses[:10]), np.mean(self.losses[-10:])
        verdict = "learned" if self.learned else "did not learn"
        return (f"{self.task} with {LABELS.get(self.model, self.model)} (T={self.seq_len}): {self.steps} steps in "
                f"{self.seconds:.1f}s, loss {first:.4f} -> {last:.4f}; {self.metric} {self.score:.4f} "
                f"(baseline {self.baseline:.4f}): {verdict}")


def _train_step(model, optimizer, loss, clip):
    optimizer.zero_grad()
    loss.backward(keep_grads=False)              # a training loop never reads the per-edge gradients
    clip_grad_norm(model.parameters(), clip, eps=0.0)           # the seed's rule: max_norm / norm
    optimizer.step()
    return loss.item()


# ---- the adding problem ----------------------------------------------------------------------------

def adding_problem(batch, seq_len, rng=None):
    """x (T, B, 2): a value in [0, 1) and a marker (one in each half of the sequence);
    y (B, 1): the sum of the two marked values. Predicting the mean, 1.0, gives MSE 1/6."""
    check_size(batch, "batch", "adding_problem")
    check_size(seq_len, "seq_len", "adding_problem")
    if seq_len < 2:
        raise ValueError(f"adding_problem: seq_len must be at least 2, got {seq_len}")
    rng = rng or shared_rng.generator()
    values = rng.uniform(0, 1, (seq_len, batch))
    markers = np.zeros((seq_len, batch))
    cols = np.arange(batch)
    markers[rng.integers(0, seq_len // 2, batch), cols] = 1
    markers[rng.integers(seq_len // 2, seq_len, batch), cols] = 1
    dtype = get_default_dtype()
    x = np.stack([values, markers], axis=-1).astype(dtype)
    return x, (values * markers).sum(axis=0)[:, None].astype(dtype)


class Regressor(Module):
    """A recurrent layer, then a Linear read-out of its last hidden state."""

    def __init__(self, model, input_size, hidden_size, output_size):
        self.rnn = make_rnn(model, input_size, hidden_size)
        self.head = Linear(hidden_size, output_size)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[-1])


def train_adding(model="lstm", seq_len=20, steps=1500, hidden=32, batch=32, lr=5e-3, clip=1.0, seed=0,
                 on_step=None):
    """Learned when the test MSE is below a tenth of the baseline's 1/6."""
    check_size(steps, "steps", "train_adding")
    shared_rng.manual_seed(seed)
    net = Regressor(model, 2, hidden, 1)
    opt, losses, start = Adam(net.parameters(), lr=lr), [], time.perf_counter()
    for step in range(1, steps + 1):
        x, y = adding_problem(batch, seq_len)
        losses.append(_train_step(net, opt, mse_loss(net(x), y), clip))
        if on_step:
            on_step(step, steps, losses[-1])
    with no_grad():
        x, y = adding_problem(512, seq_len)
        score = mse_loss(net(x), y).item()
    return TrainResult("adding", model, seq_len, steps, losses, "test MSE", score, 1 / 6, score < 1 / 60,
                       time.perf_counter() - start)


# ---- the copy task ---------------------------------------------------------------------------------

def copy_task(batch, seq_len, n_symbols=4, length=3, rng=None):
    """Remember `length` symbols shown first, wait, and replay them after a 'go' marker.

    x (T, B, n_symbols + 2) one-hot over [symbols..., blank, go]: the symbols at steps 1..length, blanks,
    go at step T - length, blanks again while the network answers; targets (length, B) are the symbols
    expected at the last `length` steps. Guessing gives accuracy 1/n_symbols.
    """
    for value, what in ((batch, "batch"), (seq_len, "seq_len"), (n_symbols, "n_symbols"), (length, "length")):
        check_size(value, what, "copy_task")
    if seq_len < 2 * length + 1:
        raise ValueError(f"copy_task: seq_len must be at least 2 * length + 1 = {2 * length + 1}, got {seq_len}")
    rng = rng or shared_rng.generator()
    symbols = rng.integers(0, n_symbols, (length, batch))
    codes = np.full((seq_len, batch), n_symbols)                 # blank everywhere ...
    codes[:length] = symbols                                     # ... but the symbols to remember
    codes[seq_len - length - 1] = n_symbols + 1                  # ... and the go marker
    return np.eye(n_symbols + 2, dtype=get_default_dtype())[codes], symbols


class Tagger(Module):
    """A recurrent layer, then a Linear read-out at every step (logits over classes)."""

    def __init__(self, model, input_size, hidden_size, classes):
        self.rnn = make_rnn(model, input_size, hidden_size)
        self.head = Linear(hidden_size, classes)

    def forward(self, x, state=None):
        out, state = self.rnn(x, state)
        return self.head(out), state


def _copy_logits(net, x, length):
    logits, _ = net(x)
    return logits[-length:].reshape(-1, logits.shape[-1])        # the answer steps, as rows


def train_copy(model="lstm", seq_len=12, steps=1500, hidden=32, batch=32, lr=5e-3, clip=1.0, seed=0,
               n_symbols=4, length=3, on_step=None):
    """Learned when the test accuracy on the replayed symbols reaches 90%."""
    check_size(steps, "steps", "train_copy")
    shared_rng.manual_seed(seed)
    net = Tagger(model, n_symbols + 2, hidden, n_symbols)
    opt, losses, start = Adam(net.parameters(), lr=lr), [], time.perf_counter()
    for step in range(1, steps + 1):
        x, symbols = copy_task(batch, seq_len, n_symbols, length)
        loss = cross_entropy(_copy_logits(net, x, length), symbols.reshape(-1))
        losses.append(_train_step(net, opt, loss, clip))
        if on_step:
            on_step(step, steps, losses[-1])
    with no_grad():
        x, symbols = copy_task(512, seq_len, n_symbols, length)
        accuracy = float(np.mean(_copy_logits(net, x, length).data.argmax(-1) == symbols.reshape(-1)))
    return TrainResult("copy", model, seq_len, steps, losses, "test accuracy", accuracy, 1 / n_symbols,
                       accuracy >= 0.9, time.perf_counter() - start)


def memory_table(task, lengths, models=MODELS, on_result=None, **kwargs):
    """Train every model at every length; returns {(model, seq_len): TrainResult}."""
    if task not in ("adding", "copy"):
        raise ValueError(f"memory_table: task must be 'adding' or 'copy', got {task!r}")
    if isinstance(lengths, (int, str)) or not all(isinstance(T, int) for T in lengths):
        raise TypeError(f"memory_table: lengths must be a list of sequence lengths such as [10, 20, 40], got {lengths!r}")
    train = {"adding": train_adding, "copy": train_copy}[task]
    results = {}
    for seq_len in lengths:
        for model in models:
            results[model, seq_len] = result = train(model=model, seq_len=seq_len, **kwargs)
            if on_result:
                on_result(result)
    return results


def format_table(results):
    """A Markdown table: one row per model, one column per length, each cell the score and a verdict."""
    models = list(dict.fromkeys(m for m, _ in results))
    lengths = sorted({T for _, T in results})
    some = next(iter(results.values()))
    lines = [f"{some.task} ({some.metric}; baseline {some.baseline:.3f})",
             "| model | " + " | ".join(f"T={T}" for T in lengths) + " |",
             "|---|" + "---|" * len(lengths)]
    for m in models:
        cells = [f"{'yes' if r.learned else 'no'} ({r.score:.3f})" for r in (results[m, T] for T in lengths)]
        lines.append(f"| {LABELS.get(m, m)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---- the character-level language model -------------------------------------------------------------

class CharLM(Module):
    """Embedding -> LSTM/GRU/RNN -> Linear: logits for the next character at every step."""

    def __init__(self, vocab, hidden_size=64, model="lstm", num_layers=1, embedding_dim=16):
        if not isinstance(vocab, (str, list, tuple)) or not all(isinstance(ch, str) and len(ch) == 1 for ch in vocab):
            raise TypeError(f"CharLM: vocab must be a string or a list of characters, got {vocab!r:.60}")
        if len(set(vocab)) != len(vocab) or not vocab:
            raise ValueError(f"CharLM: vocab must hold at least one character, each once, got {vocab!r:.60}")
        self.vocab = "".join(vocab)
        self.embed = Embedding(len(self.vocab), embedding_dim)
        self.rnn = make_rnn(model, embedding_dim, hidden_size, num_layers)
        self.head = Linear(hidden_size, len(self.vocab))

    def forward(self, codes, state=None):
        """codes (T, B) of character indices -> logits (T, B, vocab), final state."""
        out, state = self.rnn(self.embed(codes), state)
        return self.head(out), state

    def encode(self, text):
        unknown = sorted(set(text) - set(self.vocab))
        if unknown:
            raise ValueError(f"CharLM.encode: characters {''.join(unknown)!r} are not in the vocabulary")
        return np.array([self.vocab.index(ch) for ch in text], dtype=np.intp)

    def sample(self, prompt, length=80, temperature=0.8, rng=None):
        """Continue `prompt` by drawing one character at a time from the softmax."""
        rng = rng or shared_rng.generator()
        out, state = [], None
        with no_grad():
            logits, state = self(self.encode(prompt)[:, None], state)
            for _ in range(length):
                z = logits.data[-1, 0] / temperature
                p = np.exp(z - z.max())
                code = int(rng.choice(len(self.vocab), p=p / p.sum()))
                out.append(self.vocab[code])
                logits, state = self(np.array([[code]]), state)
        return prompt + "".join(out)


def _streams(codes, batch):
    """Cut the text into `batch` parallel streams (columns), each read from start to end."""
    n = len(codes) // batch
    return codes[: n * batch].reshape(batch, n).T                 # (n, batch)


def train_charlm(text=None, model="lstm", steps=300, seq_len=32, batch=16, hidden=64, lr=3e-3, clip=5.0,
                 seed=0, sample_every=100, sample_length=80, prompt="The ", on_step=None, on_sample=None):
    """Truncated BPTT over the text: the state flows on from chunk to chunk, but is detached every
    `seq_len` steps, so each backward pass covers only the last chunk. Learned when the training loss
    falls below the entropy of the characters' frequencies (what a model without memory can reach)."""
    check_size(steps, "steps", "train_charlm")
    if text is None:
        from .corpus import TEXT as text
    if not isinstance(text, str):
        raise TypeError(f"train_charlm: text must be a string, got {type(text).__name__}")
    if len(text) < 2 * batch:
        raise ValueError(f"train_charlm: text must have at least 2 * batch = {2 * batch} characters, got {len(text)}")
    shared_rng.manual_seed(seed)
    net = CharLM(sorted(set(text)), hidden, model)
    streams = _streams(net.encode(text), batch)
    seq_len = min(seq_len, len(streams) - 1)
    opt, losses, samples, start = Adam(net.parameters(), lr=lr), [], [], time.perf_counter()
    prompt = prompt if prompt and set(prompt) <= set(net.vocab) else text[0]
    state, pos = None, 0
    for step in range(1, steps + 1):
        if pos + seq_len + 1 > len(streams):                    # end of the text: start again, fresh state
            state, pos = None, 0
        chunk = streams[pos: pos + seq_len + 1]
        logits, state = net(chunk[:-1], state)
        state = detach_state(state)                             # truncated BPTT: gradients stop here
        loss = cross_entropy(logits.reshape(-1, len(net.vocab)), chunk[1:].reshape(-1))
        losses.append(_train_step(net, opt, loss, clip))
        pos += seq_len
        if on_step:
            on_step(step, steps, losses[-1])
        if sample_every and (step % sample_every == 0 or step == steps):
            samples.append((step, net.sample(prompt, sample_length)))
            if on_sample:
                on_sample(*samples[-1])
    freq = np.bincount(net.encode(text), minlength=len(net.vocab)) / len(text)
    unigram = float(-(freq[freq > 0] * np.log(freq[freq > 0])).sum())
    final = float(np.mean(losses[-max(1, steps // 10):]))
    return TrainResult("charlm", model, seq_len, steps, losses, "loss (nats/char)", final, unigram,
                       final < unigram, time.perf_counter() - start, samples)
