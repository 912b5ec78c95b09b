"""Rendered math for the pages: MathML made here, in Python, from the LaTeX the ops and formulas carry.

Why MathML from `latex2mathml` and not a vendored KaTeX: Chromium (109+), Firefox and Safari render MathML
natively, so a page needs no script, style sheet or font for its formulas. The seed's player grows by the
markup alone (a few kB), where an inlined KaTeX adds its script, CSS and base64 fonts, about 0.7 MB to every
page and every notebook cell showing a player. KaTeX typesets more faithfully (its own fonts, TeX spacing);
MathML Core in Chromium draws fractions, scripts, matrices and stretchy fences well, and that is all our
formulas use. latex2mathml is an optional dependency (the `viz` extra): without it every formula falls back
to its plain-text form.

`latex2mathml` copies some input through unescaped (text in `\\text{..}`, `&` in environments) and keeps
attributes like `href`, so its output is never trusted: `to_mathml` parses it, keeps only MathML elements and
presentation attributes, and serialises it again (ElementTree escapes every text node and attribute value).
Anything that does not parse falls back to None, and the page shows the plain text instead.
User text (tensor names, scopes) enters LaTeX only through `name_latex`, which escapes LaTeX's specials.
"""
import functools
import re
import xml.etree.ElementTree as ET

from .text import MAX_LABEL, visible

NS = "http://www.w3.org/1998/Math/MathML"
MAX_LATEX = 8000          # longer LaTeX (an op's own, with very long names) is shown as its plain text
ELEMENTS = {"math", "mrow", "mi", "mn", "mo", "mtext", "mspace", "msub", "msup", "msubsup", "mfrac", "msqrt",
            "mroot", "munder", "mover", "munderover", "mtable", "mtr", "mtd", "mstyle", "menclose", "mpadded",
            "mphantom", "semantics", "annotation"}
ATTRIBUTES = {"display", "mathvariant", "stretchy", "fence", "form", "separator", "lspace", "rspace", "width",
              "height", "depth", "displaystyle", "scriptlevel", "accent", "accentunder", "columnalign",
              "rowspacing", "columnspacing", "linethickness", "notation", "largeop", "movablelimits",
              "symmetric", "minsize", "maxsize", "encoding"}
ET.register_namespace("", NS)
# Style every page showing this MathML needs (the player, the notebooks' HTML). A font with an OpenType MATH
# table stretches brackets to a matrix's height and draws fractions TeX-like: browsers' generic `math` family
# is often a text font without one. MathML Core ignores `columnalign`, so an aligned environment's columns are
# aligned by CSS (Chromium right-aligns a cell's math with -webkit-right only), no gap inside a pair.
CSS = ('math { font-family: "STIX Two Math", "Latin Modern Math", "Cambria Math", "DejaVu Math TeX Gyre", '
       'math; }\n'
       'mtd[columnalign="right"] { text-align: right; text-align: -webkit-right; padding-right: 0; }\n'
       'mtd[columnalign="left"] { text-align: left; padding-left: 0; }\n')


def available():
    """True when latex2mathml is installed (the `viz` extra); else formulas are shown as plain text."""
    try:
        import latex2mathml.converter  # noqa: F401
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=4096)
def to_mathml(latex, display=False):
    """`latex` as a <math> element (a string), or None when latex2mathml is missing or the result does not
    pass the check described in the module docstring."""
    if not latex or len(latex) > MAX_LATEX:        # latex2mathml's time grows with the text: long is shown as text
        return None
    # latex2mathml copies the `&` of an `aligned` environment through as raw text (not XML); `align*` is the
    # same right/left alignment and converts to a table
    latex = latex.replace(r"\begin{aligned}", r"\begin{align*}").replace(r"\end{aligned}", r"\end{align*}")
    try:
        from latex2mathml.converter import convert
        raw = convert(latex, display="block" if display else "inline")
        tree = ET.fromstring(raw)
    except Exception:                       # ImportError, or LaTeX latex2mathml cannot read, or bad XML
        return None
    for el in tree.iter():
        if not el.tag.startswith("{" + NS + "}") or el.tag.split("}")[1] not in ELEMENTS:
            return None
        for key in list(el.attrib):
            if key not in ATTRIBUTES:
                del el.attrib[key]
        _one_operator(el)
    _unwrap(tree)
    tree.attrib.pop("display", None) if not display else None
    text = ET.tostring(tree, encoding="unicode", short_empty_elements=False)
    return text.replace(f' xmlns="{NS}"', "", 1)         # the HTML parser puts <math> in MathML's namespace itself


def _unwrap(tree):
    """An <mrow> holding one element and nothing else lays out as that element: keep the element alone (latex2mathml
    wraps every sub- and superscript so; this makes a page's formulas about a third smaller)."""
    mrow = f"{{{NS}}}mrow"
    for parent in list(tree.iter()):
        for i, child in enumerate(list(parent)):
            while (child.tag == mrow and len(child) == 1 and not child.attrib and not (child.text or "").strip()
                   and not (child[0].tail or "").strip()):
                inner, inner.tail = child[0], child.tail
                parent[i] = inner
                child = inner


def _one_operator(el):
    """latex2mathml writes \\mathrel{+=} as <mo><mrow><mo>+</mo><mo>=</mo></mrow></mo>, which browsers draw
    as two spaced operators: make it the one operator <mo>+=</mo>."""
    if el.tag != f"{{{NS}}}mo" or len(el) != 1 or el[0].tag != f"{{{NS}}}mrow":
        return
    parts = list(el[0])
    if parts and all(p.tag == f"{{{NS}}}mo" and len(p) == 0 for p in parts):
        el.remove(el[0])
        el.text = "".join(p.text or "" for p in parts)


# ---- names and labels as LaTeX ------------------------------------------------------------------

_SPECIAL = {"\\": r"\backslash ", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "%": r"\%",
            "~": r"\sim ", "^": r"\wedge ", "_": r"\_", "<": r"\lt ", ">": r"\gt ", '"': "''"}
_TOKEN = re.compile(r"""
    (?P<name>[A-Za-z][A-Za-z0-9]*(?:'*)(?:_[A-Za-z0-9]+)*'*)    # s_1, W_s, weight_hh_l0, h'
  | (?P<num>\d+(?:\.\d+)?(?:e-?\d+)?)
  | (?P<pow>\*\*)
  | (?P<dots>\.\.\.)
  | (?P<T>\.T\b)
  | (?P<other>.)""", re.VERBOSE | re.DOTALL)
_OPERATORS = {"@": r"\,", "*": r"\odot ", "-": "-", "+": "+", "/": "/", "=": "=", ",": ",\\,", ":": "{:}",
              "(": "(", ")": ")", "[": "[", "]": "]", " ": " ", "|": r"\vert ", ".": "."}


def _name(text):
    """One identifier: x, s_1 -> s_{1}, W_s -> W_{s}, gates_1 -> \\mathrm{gates}_{1}, weight_hh_l0 upright."""
    base, _, rest = text.partition("_")
    if "_" in rest or len(rest) > 4:          # several underscores or a long suffix: a word, not a subscript
        return r"\mathrm{" + text.replace("_", r"\_") + "}"
    letters = base.rstrip("'")
    head = (letters if len(letters) == 1 else r"\mathrm{" + letters + "}") + base[len(letters):]
    return head + ("_{" + (rest if len(rest) == 1 or rest.isdigit() else r"\mathrm{" + rest + "}") + "}" if rest else "")


def name_latex(label):
    """A display name or expression label ('s_1 @ W_s', 'W_s.T', 'gates_1[..., 3:6]') as safe LaTeX: names get
    subscripts, `@` is a product by juxtaposition, `*` is ⊙; every LaTeX special character is escaped."""
    out = []
    tokens = list(_TOKEN.finditer(visible(label, 3 * MAX_LABEL)))
    for i, m in enumerate(tokens):
        kind, text = m.lastgroup, m[0]
        if kind == "name":
            out.append(_name(text))
        elif kind == "num":
            out.append(text)
        elif kind == "pow":
            following = next((t[0] for t in tokens[i + 1:] if not t[0].isspace()), "")
            out.append("^" if re.fullmatch(r"[\w.]+", following) else r"\ast\ast ")
        elif kind == "dots":
            out.append(r"\ldots ")
        elif kind == "T":
            out.append(r"^{\top}")
        elif text in _OPERATORS:
            out.append(_OPERATORS[text])
        elif text in _SPECIAL:
            out.append(_SPECIAL[text])
        elif text.isprintable():
            out.append(text)
    return "".join(out).strip()


def operand(label):
    """name_latex, in parentheses when the label is an expression (so `{y}^2` squares all of it)."""
    tex = name_latex(label)
    return rf"\left({tex}\right)" if " " in str(label).strip() else tex


def grad_latex(loss, of):
    """∂loss/∂of as a LaTeX fraction: the one notation for a gradient on every page."""
    return rf"\frac{{\partial {name_latex(loss)}}}{{\partial {operand(of)}}}"
