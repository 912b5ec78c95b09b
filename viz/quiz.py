"""The player's quiz: questions made from the recorded walk, with their answers and the reason, checked in the page.

Three kinds, each asked at the step it is about:
  leaf     "Which weight receives a term at this step?" -- the weights this node uses (or none): where BPTT's
           terms come from, one per use
  zero     "Will the contribution to X be exactly zero?" -- asked wherever one is (as f_1's, with c_0 = 0) and,
           so that "yes" is not a give-away, at the product nodes whose contributions are not; the reason names
           the operand that is zero (or says which factors are not)
  smallest "Which term of ∂E/∂W is the smallest, and why?" -- for every weight used more than once, at the step
           of its last term: the term whose path back from the loss is longest usually is (each step back
           multiplies by one more Jacobian), and the reason gives every term's norm and path length
Numeric guesses of each contribution stay in the page (player.js), which shows the operands they need
(`needs`: for a matmul's weight, the other input). Everything here is plain text, numpy code between backticks;
the page escapes it and shows names with subscripts (W_s as W with s below). Gradients are written ∂loss/∂x with
the loss's own name (∂E_3/∂W_s for the seed), as everywhere else on the page.
"""
import string

import numpy as np

from tinygrad_rnn.core.ops import op_field
from tinygrad_rnn.teach.stepper import grad_text, norm

NONE = "none of them"
PRODUCTS = {"mul", "matmul", "linear"}


def needs(step, pos):
    """The operands the contribution to input `pos` is computed from, besides the upstream gradient: 'a', 'b'
    (the inputs) and 'y' (the output), as the op's formula template names them."""
    templates = op_field(step.node.op, "formula")
    if not templates:
        return []
    keys = {key for _, key, _, _ in string.Formatter().parse(templates[min(pos, len(templates) - 1)]) if key}
    found = [k for k in ("a", "b", "y") if k in keys]
    if step.op == "linear" and pos == 1:                 # the weight's share needs the input rows
        found = ["a"]
    return [k for k in found if not (k == "a" and pos == 0) and not (k == "b" and pos == 1)]


def _all_zero(a):
    return a is not None and np.size(a) > 0 and not np.any(np.asarray(a))


def _code(label):
    """An expression label ('s_2 @ W_s') as code in the text; a plain name as itself."""
    return f"`{label}`" if " " in label else label


def _leaf_question(step, leaves):
    got = list(dict.fromkeys(a.name for a in step.accumulations if a.kind == "leaf"))
    uses = ", ".join(f"{a.name} ({a.use} of {a.uses})" for a in step.accumulations if a.kind == "leaf")
    why = (f"{' and '.join(got)} {'is an input' if len(got) == 1 else 'are inputs'} of {_code(step.label)}: the walk "
           f"adds this use's contribution to .grad -- term {uses}." if got else
           f"{_code(step.label)} uses no weight directly; its contributions go on towards the weights.")
    return {"kind": "leaf", "text": f"Which weight receives a term at this step ({step.op} → {_code(step.label)})?",
            "options": list(leaves) + [NONE], "answer": got or [NONE], "why": why}


def _zero_question(step, e, names, loss, formula):
    g_zero = _all_zero(step.grad)
    zero = _all_zero(e.grad)
    values = {"a": step.inputs[0].tensor.data, "b": step.inputs[1].tensor.data if len(step.inputs) > 1 else None,
              "y": step.output.data}
    label = {"a": names[0], "b": names[1] if len(names) > 1 else "", "y": step.label}
    zero_operands = [label[k] for k in needs(step, e.position) if _all_zero(values[k])]
    share = formula(step, e.position)
    share = share if share == step.rule else f"`{share}`"      # numpy code as code; an op's rule as prose
    if zero and g_zero:
        why = (f"Yes: the upstream gradient {grad_text(loss, step.label)} is itself zero, and every contribution is "
               f"a multiple of it.")
    elif zero and zero_operands:
        why = (f"Yes: the contribution is {e.name}'s share {share}, and {zero_operands[0]} is "
               f"all zeros, so every element is exactly 0: no gradient flows back through {e.name} from this use.")
    elif zero:
        why = (f"Yes: here the local derivative is zero wherever the upstream gradient is not "
               f"({share}).")
    else:
        why = f"No: {share} multiplies nonzero numbers; ‖contribution‖ = {norm(e.grad):.4g}."
    return {"kind": "zero", "text": f"Will the contribution sent to {e.name} at this step be exactly zero?",
            "options": ["yes", "no"], "answer": ["yes" if zero else "no"], "why": why, "input": e.position}


def _smallest_question(leaf, terms, loss):
    sizes = [t["value"]["norm"] if t["value"] else 0.0 for t in terms]
    sizes = [float(s) if isinstance(s, (int, float)) else float("nan") for s in sizes]
    if not np.isfinite(sizes).all():
        return None                              # a NaN or infinite term: no smallest to ask about
    small = int(np.argmin(sizes))
    lengths = [t["depth"] for t in terms]
    longest = lengths.index(max(lengths))
    table = "; ".join(f"{t['when']}: ‖term‖ = {s:.3g}, {n} nodes back to the loss"
                      for t, s, n in zip(terms, sizes, lengths))
    if len(set(lengths)) == 1:
        why = (f"The term from {terms[small]['when']}. Its terms share one batched node here, so what sets them "
               f"apart is the gradient each step's row received and the input row it multiplies. {table}.")
    elif lengths[small] == max(lengths):
        why = (f"The term from {terms[small]['when']}: its gradient came back through the most steps, and each step "
               f"back multiplies it by one more Jacobian (here each shrinks it). {table}.")
    else:
        why = (f"The term from {terms[small]['when']}, although {terms[longest]['when']}'s path is longer: a term is "
               f"also scaled by the input it multiplies at its step. {table}.")
    text = f"Which term of {grad_text(loss, leaf)} (one per use) will be the smallest, and why?"
    return {"kind": "smallest", "text": text,
            "options": [t["when"] for t in terms], "answer": [terms[small]["when"]], "why": why}


def questions(steps, terms, leaves, loss, formula):
    """The quiz's questions, each with the step it is asked at ('step'), its options, answer(s) and reason.
    `loss` is the loss's display name; formula(step, pos) the numpy code of a contribution, as the panel shows it."""
    out = []
    last_term = {}
    for t in terms:
        last_term[t["leaf"]] = max(last_term.get(t["leaf"], -1), t["step"])
    zero_steps = {s.index for s in steps for e in s.inputs if e.kind != "const" and _all_zero(e.grad)}
    for step in steps:
        if step.index == 0:
            continue
        out.append(dict(_leaf_question(step, leaves), step=step.index))
        names = [e.name for e in step.inputs]
        candidates = [e for e in step.inputs if e.kind != "const" and e.grad is not None]
        zero = [e for e in candidates if _all_zero(e.grad)]
        if zero or (step.op in PRODUCTS and candidates and step.index not in zero_steps):
            out.append(dict(_zero_question(step, (zero or candidates)[0], names, loss, formula), step=step.index))
        for leaf, k in last_term.items():
            mine = [t for t in terms if t["leaf"] == leaf]
            question = _smallest_question(leaf, mine, loss) if k == step.index and len(mine) > 1 else None
            if question:
                out.append(dict(question, step=step.index))
    for i, q in enumerate(out):
        q["id"] = i
    return out
