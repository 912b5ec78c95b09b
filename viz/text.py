"""What user text looks like wherever it is shown: one line, its invisible characters spelled out, bounded.

The escapes for each output (dot.escape for DOT labels, mathml.name_latex for LaTeX, player.script_json and
player.js's esc/shown for the page) start from this reading of a name, so a name looks the same everywhere.
"""
import re

MAX_LABEL = 80             # user text longer than this is drawn as its start … its end
# characters that would break a label or hide what a name holds: controls (NUL, newline), the line and
# paragraph separators, lone surrogates, XML's non-characters and the bidirectional overrides
INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                       r"\ud800-\udfff\ufffe\uffff]")


# a name with a subscript: s_1, W_s', weight_ih_l0, h^(1)_3 (the layer mark ^(l) is a superscript)
NAME = re.compile(r"^([^_\s^]+)(?:\^\((\w{1,3})\))?_((?:[^_\s]{1,5}_){0,2}[^_\s]{1,5})$")
_SUBSCRIPTS = "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"
_SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾"
_SUBSCRIPT = str.maketrans("0123456789+-=()aehijklmnoprstuvx", _SUBSCRIPTS)
_SUPERSCRIPT = str.maketrans("0123456789()", _SUPERSCRIPTS)


def unicode_name(name):
    """A name as one run of text with Unicode sub- and superscripts (z_3 -> z₃, h^(1)_3 -> h⁽¹⁾₃), or None
    when it has no subscript or one Unicode cannot write (W_s' has no subscript prime)."""
    m = NAME.match(visible(name))
    if not m:
        return None
    sub, sup = m[3].translate(_SUBSCRIPT), f"({m[2]})".translate(_SUPERSCRIPT) if m[2] else ""
    if not set(sub + sup) <= set(_SUBSCRIPTS + _SUPERSCRIPTS):
        return None
    return m[1] + sup + sub


def visible(text, limit=MAX_LABEL):
    """User text as one line that shows what it holds: invisible characters as Python escapes (`\\n`,
    `\\x00`, `\\u2028`), and text longer than `limit` (None: no limit) as its start, an ellipsis and its end."""
    text = INVISIBLE.sub(lambda m: m[0].encode("unicode_escape", "backslashreplace").decode("ascii"), str(text))
    if limit is not None and len(text) > limit:
        text = text[:limit * 2 // 3] + "…" + text[len(text) - (limit - limit * 2 // 3 - 1):]
    return text
