"""Variable-length batches as torch.nn.utils.rnn: pack_padded_sequence, PackedSequence, pad_packed_sequence,
pad_sequence (a list of sequences -> one padded batch) and pack_sequence (-> PackedSequence).

A PackedSequence holds a padded batch's real steps only, time-major: the rows of step 1 of every sequence,
then step 2 of those at least 2 long, ... (`batch_sizes[t]` rows at step t+1), the batch sorted by decreasing
length (`sorted_indices`). A recurrent layer given one computes step t for those batch_sizes[t] sequences only:
the padded steps are never computed, so they are not in the graph at all. Each conversion is a single
getitem op (after a concat where it adds padding or joins sequences), so gradients reach the inputs through the
tape as usual (zero on the padding).
"""
import numbers
from typing import NamedTuple

import numpy as np

from .core.functional import concat
from .core.mode import scope
from .core.tensor import Tensor
from .nn import as_tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "pack_sequence"]


class PackedSequence(NamedTuple):
    data: Tensor                     # (sum of the lengths, *features)
    batch_sizes: np.ndarray          # (max length,) int64: how many sequences are at least t+1 long
    sorted_indices: np.ndarray = None      # batch index of the k-th longest sequence (None: already sorted)
    unsorted_indices: np.ndarray = None    # its inverse


def _lengths(lengths, batch, steps):
    """The lengths as int64, checked: integers, or whole floats (a tg.Tensor of lengths holds floats)."""
    values = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths)
    whole = values.dtype.kind in "iu" or values.dtype.kind == "f" and bool(np.all(values == np.round(values)))
    if values.shape != (batch,) or not whole:
        raise ValueError(f"pack_padded_sequence: lengths must be {batch} integers (one per sequence), got "
                         f"shape {values.shape} dtype {values.dtype}")
    if values.size and (values.min() < 1 or values.max() > steps):
        raise ValueError(f"pack_padded_sequence: every length must lie in [1, {steps}] (the padded length), got "
                         f"values from {values.min()} to {values.max()}")
    return values.astype(np.int64)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """A padded batch (T, B, *) (or (B, T, *) with batch_first) and each sequence's length -> PackedSequence.
    enforce_sorted=True needs lengths in decreasing order; False sorts the batch (and remembers how)."""
    input = as_tensor(input, "pack_padded_sequence", "input")      # a numpy array, as a layer takes it
    if input.ndim < 2:
        raise ValueError(f"pack_padded_sequence: input must be a Tensor (T, B, *) or (B, T, *) with batch_first, "
                         f"got shape {input.shape}")
    steps, batch = (input.shape[1], input.shape[0]) if batch_first else input.shape[:2]
    if not steps or not batch:
        raise ValueError(f"pack_padded_sequence: cannot pack an empty batch: input of shape {input.shape} holds "
                         f"{batch} sequences of {steps} steps{' (batch_first)' if batch_first else ''}")
    lengths = _lengths(lengths, batch, steps)
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise ValueError(f"pack_padded_sequence: lengths must be in decreasing order with enforce_sorted=True, "
                             f"got {lengths.tolist()}; pass enforce_sorted=False to have the batch sorted")
        order = None
    else:
        order = np.argsort(-lengths, kind="stable")
    ranked = lengths if order is None else lengths[order]
    batch_sizes = np.array([np.sum(ranked > t) for t in range(int(ranked.max()))], dtype=np.int64)
    rows = order if order is not None else np.arange(batch)
    t_of = np.concatenate([np.full(n, t) for t, n in enumerate(batch_sizes)])
    b_of = np.concatenate([rows[:n] for n in batch_sizes])
    with scope("pack"):
        data = input[(b_of, t_of) if batch_first else (t_of, b_of)]       # one getitem: the real steps only
    data.name = "packed"
    return PackedSequence(data, batch_sizes, order, None if order is None else np.argsort(order))


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """PackedSequence -> (padded Tensor (T, B, *) or (B, T, *), lengths int64 array), in the original batch order."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got {type(sequence).__name__}")
    data, sizes = sequence.data, np.asarray(sequence.batch_sizes)
    check_batch_sizes(sizes, data.shape[0], "pad_packed_sequence")
    steps, batch = len(sizes), int(sizes[0])
    if total_length is not None and total_length < steps:
        raise ValueError(f"pad_packed_sequence: total_length={total_length} is less than the longest sequence, "
                         f"{steps} steps")
    steps = steps if total_length is None else int(total_length)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pad = data.shape[0]                                   # the row index of the padding row appended below
    where = np.full((steps, batch), pad, dtype=np.intp)   # where[t, b]: the packed row of (step t, batch b)
    for t, (start, n) in enumerate(zip(starts, sizes)):
        where[t, :n] = start + np.arange(n)
    if sequence.unsorted_indices is not None:
        where = where[:, sequence.unsorted_indices]
    lengths = np.sum(where != pad, axis=0).astype(np.int64)
    return _gather([data], where, padding_value, batch_first), lengths


def check_batch_sizes(sizes, rows, owner):
    """`sizes` must be a PackedSequence's batch_sizes for `rows` rows of data: at step t, how many sequences are
    at least t+1 long (positive, non-increasing, summing to the rows)."""
    if not (sizes.ndim == 1 and sizes.size > 0 and sizes.dtype.kind in "iu" and sizes.min() >= 1
            and not np.any(np.diff(sizes) > 0) and int(sizes.sum()) == rows):
        raise ValueError(f"{owner}: a PackedSequence's batch_sizes must be positive, non-increasing integers that "
                         f"sum to its data's {rows} rows (as pack_padded_sequence makes them), got {sizes.tolist()}")


def _gather(pieces, where, padding_value, batch_first):
    """The rows of the pieces joined (and a padding row after them) picked by where[t, b], in one getitem:
    a Tensor (T, B, *), or (B, T, *) with batch_first."""
    with scope("pad"):
        dtype = np.result_type(*[p.dtype for p in pieces])
        filler = Tensor(np.full((1, *pieces[0].shape[1:]), padding_value, dtype=dtype), name="padding")
        padded = concat([*pieces, filler], axis=0)[where.T if batch_first else where]
    padded.name = "padded"
    return padded


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """A list of B sequences (L_i, *) -> one Tensor (T, B, *) (or (B, T, *) with batch_first), T the longest
    L_i, each sequence followed by padding_value (preceded with padding_side='left'), as torch's."""
    return _padded(_sequences(sequences, "pad_sequence"), batch_first, padding_value, padding_side)


def _padded(seqs, batch_first=False, padding_value=0.0, padding_side="right"):
    """The padded batch of sequences already checked (_sequences), as pad_sequence returns it."""
    if not isinstance(padding_value, numbers.Real):
        raise TypeError(f"pad_sequence: padding_value must be a number, got {type(padding_value).__name__}")
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got {padding_side!r}")
    lengths = [s.shape[0] for s in seqs]
    steps, pad = max(lengths), sum(lengths)               # pad: the row index of the padding row
    where = np.full((steps, len(seqs)), pad, dtype=np.intp)
    for b, (start, n) in enumerate(zip(np.cumsum([0, *lengths[:-1]]), lengths)):
        first = steps - n if padding_side == "left" else 0
        where[first:first + n, b] = start + np.arange(n)
    return _gather(seqs, where, padding_value, batch_first)


def pack_sequence(sequences, enforce_sorted=True):
    """A list of sequences (L_i, *) -> PackedSequence: pad_sequence then pack_padded_sequence, as torch's.
    enforce_sorted=True needs them longest first; False sorts them (and remembers how)."""
    seqs = _sequences(sequences, "pack_sequence")
    return pack_padded_sequence(_padded(seqs), [s.shape[0] for s in seqs], enforce_sorted=enforce_sorted)


def _sequences(sequences, owner):
    """A list of Tensors (L_i, *) of one trailing shape; numpy arrays become constant Tensors."""
    if isinstance(sequences, (Tensor, np.ndarray)) and sequences.ndim:
        sequences = list(sequences)                      # a batch (B, L, *) is B sequences, as in torch
    if not isinstance(sequences, (list, tuple)) or not sequences:
        raise TypeError(f"{owner}: sequences must be a non-empty list of Tensors of shape (L_i, *), got "
                        f"{type(sequences).__name__}{' (empty)' if isinstance(sequences, (list, tuple)) else ''}")
    seqs = [as_tensor(s, owner, f"sequences[{i}]") for i, s in enumerate(sequences)]
    for i, s in enumerate(seqs):
        if s.ndim == 0:
            raise ValueError(f"{owner}: sequences[{i}] is a number (0-d); each sequence needs a time axis (L_i, *). "
                             f"One sequence goes in a list: {owner}([x])")
        if s.shape[1:] != seqs[0].shape[1:]:
            form = "(L_i" + ("".join(f", {n}" for n in seqs[0].shape[1:]) or ",") + ")"
            raise ValueError(f"{owner}: every sequence must have shape {form} like sequences[0] {seqs[0].shape}, "
                             f"got sequences[{i}] of shape {s.shape}")
    return seqs

