"""Checked exercises for the notebooks: compare a learner's answer with the number the tape computed.

    from tinygrad_rnn.teach import exercises as ex
    g_3 = ...                                            # the learner replaces ... with an answer
    ex.check_array("1.2", g_3, s_3.node.input_grads[0], what="the gradient at a_3")

A check prints one line when the answer is right ("✔ 1.2 ...") and raises when it is not:
`NotAnswered` while the answer is still `...`, `WrongAnswer` (an AssertionError) naming the first entry
that differs, both answer and expected value, and a hint. `score()` lists what passed so far. The
notebooks' build runs the solutions with every check expected to pass, and the student version with
every exercise expected to stop at NotAnswered. Imported in IPython (Jupyter), the module shows these two
exceptions as their one-line message, without the traceback (IPython's set_custom_exc).
"""
import hashlib

import numpy as np

__all__ = ["NotAnswered", "WrongAnswer", "check_array", "check_number", "check_choice", "check_true", "digest",
           "score", "reset"]

_results = {}            # label -> True (passed) / False (wrong) / None (not answered yet), in order of checking


class NotAnswered(Exception):
    """The answer is still the placeholder `...`."""


class WrongAnswer(AssertionError):
    """The answer differs from what the tape computed."""


def _unanswered(value):
    if value is Ellipsis:
        return True
    if isinstance(value, (list, tuple)):
        return any(_unanswered(v) for v in value)
    if isinstance(value, dict):
        return any(_unanswered(v) for v in value.values())
    return False


def _start(label, answer, what):
    """Record the attempt; raise NotAnswered while `answer` holds `...`."""
    __tracebackhide__ = True
    if _unanswered(answer):
        _results[label] = None
        raise NotAnswered(f"exercise {label} is not answered yet: replace the ... with {what or 'your answer'}")


def _fail(label, message, hint):
    __tracebackhide__ = True
    _results[label] = False
    raise WrongAnswer(f"✘ {label} not yet: {message}" + (f"\n  hint: {hint}" if hint else ""))


def _passed(label, message):
    _results[label] = True
    print(f"✔ {label} correct: {message}")


def _as_array(value):
    if hasattr(value, "data") and hasattr(value, "requires_grad"):       # a Tensor: compare its values
        value = value.data
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def check_array(label, answer, expected, what="", rtol=1e-6, atol=1e-9, hint=None, source="the tape"):
    """The answer equals `expected` (an array or Tensor read off `source`, the tape) in shape and value."""
    __tracebackhide__ = True
    _start(label, answer, what)
    got, want = _as_array(answer), _as_array(expected)
    name = what or "your answer"
    if got is None:
        _fail(label, f"{name} should be an array of numbers, got {type(answer).__name__}", hint)
    if got.shape != want.shape:
        _fail(label, f"{name} has shape {got.shape}; {source}'s has shape {want.shape}", hint)
    close = np.isclose(got, want, rtol=rtol, atol=atol)
    if not np.all(close):
        where = tuple(int(i) for i in np.argwhere(~close)[0])
        spot = f" at index {where}" if where else ""
        _fail(label, f"{name} differs from {source}'s{spot}: yours {got[where]:.6g}, {source}'s {want[where]:.6g} "
                     f"({int(np.sum(~close))} of {close.size} entries differ)", hint)
    diff = float(np.max(np.abs(got - want))) if got.size else 0.0
    _passed(label, f"{name} matches {source}'s (max |difference| {diff:.1e})")


def check_number(label, answer, expected, what="", rtol=1e-6, atol=1e-9, hint=None, source="the tape"):
    """The answer is a single number equal to `expected`."""
    __tracebackhide__ = True
    _start(label, answer, what)
    if isinstance(answer, bool) or np.ndim(answer) != 0 or _as_array(answer) is None:
        _fail(label, f"{what or 'your answer'} should be one number, got {answer!r:.60}", hint)
    got, want = float(np.asarray(_as_array(answer))), float(np.asarray(_as_array(expected)))
    if not np.isclose(got, want, rtol=rtol, atol=atol):
        _fail(label, f"{what or 'your answer'} is {got:.6g}; {source} says otherwise", hint)
    _passed(label, f"{what or 'your answer'} is {got:.6g}, as {source} says")


def digest(label, answer):
    """A short fingerprint of a choice, so the expected answer can sit in the notebook without being shown."""
    return hashlib.sha256(f"{label}:{str(answer).strip().lower()}".encode()).hexdigest()[:12]


def check_choice(label, answer, choices, expected_digest, hint=None):
    """The answer is the right one of `choices`; `expected_digest` is digest(label, right choice). (No
    explanation comes with a right answer: the student's notebook would show it before they answer.)"""
    __tracebackhide__ = True
    _start(label, answer, f"one of {', '.join(map(repr, choices))}")
    normal = str(answer).strip().lower()
    if normal not in {str(c).strip().lower() for c in choices}:
        _fail(label, f"{answer!r} is not one of {', '.join(map(repr, choices))}", hint)
    if digest(label, normal) != expected_digest:
        _fail(label, f"{answer!r} is not the answer", hint)
    _passed(label, repr(answer))


def check_true(label, answer, test, message, what="", hint=None):
    """A check written in the notebook: `test(answer)` says whether the answer passed (it is called only
    once the answer is given), `message` what was tested."""
    __tracebackhide__ = True
    _start(label, answer, what)
    try:
        held, failed = bool(test(answer)), None
    except Exception as err:                             # an answer of the wrong kind: "3" for a number
        held, failed = False, f"{type(err).__name__}: {str(err)[:120]}"
    if failed:
        _fail(label, f"checking your answer failed ({failed}); it should be {what or 'something else'}, "
                     f"got {answer!r:.60}", hint)
    if not held:
        _fail(label, f"this should hold and does not: {message}", hint)
    _passed(label, message)


def score(*labels):
    """Print one line per exercise, and how many passed: those checked so far, and every one of `labels` (a
    notebook's exercises), so that one whose cell stopped before reaching its check counts too."""
    results = {label: _results.get(label, "unchecked") for label in labels} | _results
    passed = sum(1 for ok in results.values() if ok is True)
    marks = {True: "✔ passed", False: "✘ not yet", None: "… not answered",
             "unchecked": "… not checked (its cell stopped before the check: run it again)"}
    for label, ok in results.items():
        print(f"  {label}: {marks[ok]}")
    print(f"{passed} of {len(results)} exercises passed")


def reset():
    """Forget the results (a notebook restarted without restarting its kernel)."""
    _results.clear()


def _show_briefly(shell, etype, value, tb, tb_offset=None):
    """IPython: a check's verdict as one line, not a traceback into this module (the cell still fails)."""
    shell.showtraceback((etype, value, tb), exception_only=True)


def _install_in_ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((NotAnswered, WrongAnswer), _show_briefly)


_install_in_ipython()
