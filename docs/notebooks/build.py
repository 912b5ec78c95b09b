"""Build the notebooks from their text sources (jupytext percent format, docs/notebooks/NN_*.py).

    python docs/notebooks/build.py                    # student and solutions .ipynb into docs/notebooks/_build/
    python docs/notebooks/build.py --execute --html   # ... run them (nbclient) and write nbconvert's HTML too
    python docs/notebooks/build.py --only solutions 01_bptt_from_the_tape

An exercise is a code cell tagged `exercise` whose answer sits between two marker lines:

    g_3 = ...                       # what the student sees and replaces
    # BEGIN SOLUTION
    g_3 = (dE_dy @ W_y.T) * (1 - s_3 ** 2)
    # END SOLUTION
    ex.check_array("1.2", g_3, ...)

The solutions build keeps the answer (drops the marker lines); the student build drops the answer with its
markers and tags the cell `raises-exception`, so that running it stops at that cell's NotAnswered and the
notebook goes on (the narrative never depends on an exercise's answer). Built notebooks carry no outputs
unless executed here; they are not committed.
"""
import argparse
import copy
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "_build"
BUILDS = ("student", "solutions")
BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
EXERCISE, TOLERATED = "exercise", "raises-exception"
CELL_TIMEOUT = 120          # seconds a cell may run before nbclient gives up


class BuildError(ValueError):
    """A source notebook breaks the exercise conventions (markers without the tag, or the other way round)."""


def sources():
    """The notebooks' text sources, in order."""
    return sorted(HERE.glob("[0-9][0-9]_*.py"))


def _split_solution(cell, where):
    """(the lines before, the solution's lines, the lines after) of an exercise cell's source."""
    lines = cell.source.split("\n")
    begins = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise BuildError(f"{where}: an exercise cell needs one '{BEGIN}' line and, after it, one '{END}' line")
    return lines[:begins[0]], lines[begins[0] + 1:ends[0]], lines[ends[0] + 1:]


def build(source, solutions):
    """The notebook (an nbformat NotebookNode, no outputs) of one source, as the student or solutions build."""
    import jupytext
    nb = jupytext.read(source)
    for number, cell in enumerate(nb.cells, 1):
        where = f"{Path(source).name} cell {number}"
        tags = list(cell.metadata.get("tags", []))
        marked = BEGIN in cell.source or END in cell.source
        if cell.cell_type != "code" or EXERCISE not in tags:
            if marked:
                raise BuildError(f"{where}: solution markers in a cell not tagged {EXERCISE!r}")
            continue
        before, answer, after = _split_solution(cell, where)
        cell.source = "\n".join(before + answer + after if solutions else before + after).strip("\n")
        if not solutions:
            cell.metadata["tags"] = tags + [TOLERATED]
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def execute(nb, cwd=HERE, timeout=CELL_TIMEOUT):
    """Run every cell with nbclient (a fresh python3 kernel, started in `cwd`); returns the notebook."""
    from nbclient import NotebookClient
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def to_html(nb):
    """nbconvert's HTML of the notebook, made to open offline: no MathJax or require.js from the network; the
    math in markdown (cells, and outputs such as a bptt formula's) is MathML instead, which browsers render."""
    from nbconvert import HTMLExporter
    nb = _math_as_mathml(copy.deepcopy(nb))
    from viz.mathml import CSS
    page, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    return _offline(page).replace("</head>", f"<style>{CSS}</style>\n</head>", 1)


MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.DOTALL)


def _mathml(text):
    """Markdown with $$display$$ and $inline$ LaTeX -> the same with <math> elements (viz.mathml: checked
    MathML), or None when some formula cannot be converted (latex2mathml missing, or LaTeX it cannot read)."""
    from viz.mathml import to_mathml
    failed = []

    def convert(match):
        display = match.group(1) is not None
        math = to_mathml((match.group(1) if display else match.group(2)).strip(), display=display)
        failed.extend([match.group(0)] if math is None else [])
        return f"\n\n{math}\n\n" if display else (math or "")
    text = MATH.sub(convert, text)
    return None if failed else text


def _math_as_mathml(nb):
    """Every markdown cell and markdown/LaTeX output that holds math, with MathML in its place."""
    import nbformat
    from nbconvert.filters import markdown2html
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "$" in cell.source:
            cell.source = _mathml(cell.source) or cell.source
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            source = data.get("text/markdown") or data.get("text/latex")
            converted = _mathml(source) if source and "$" in source and "text/html" not in data else None
            if converted is not None:
                data["text/html"] = markdown2html(converted)
    nbformat.validate(nb)
    return nb


def _offline(page):
    """Drop the <script src=https://...> tags nbconvert's template adds (MathJax, require.js): the page is
    opened without a network, and a script that cannot load is an error in the browser's console."""
    return re.sub(r'<script[^>]*\bsrc="https?://[^"]*"[^>]*>\s*</script>', "", page)


def write_atomic(path, text):
    """Write `text` to `path` atomically (tinygrad_rnn.files: a temporary in the same folder, fsync, rename),
    making the folder first; returns the Path."""
    from tinygrad_rnn.files import write_text
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, text, owner="build.py")
    return path


def main(argv=None):
    import nbformat
    p = argparse.ArgumentParser(description="Build the notebooks (student and solutions) from docs/notebooks/*.py")
    p.add_argument("names", nargs="*", help="notebooks to build (file stems such as 01_bptt_from_the_tape; "
                                             "default: all)")
    p.add_argument("--only", choices=BUILDS, help="build only the student or only the solutions version")
    p.add_argument("--execute", action="store_true", help="run each notebook (nbclient) and keep its outputs")
    p.add_argument("--html", action="store_true", help="also write nbconvert's HTML (implies --execute)")
    p.add_argument("--out", type=Path, default=OUT, help=f"output folder (default {OUT})")
    args = p.parse_args(argv)
    chosen = [s for s in sources() if not args.names or s.stem in args.names]
    unknown = set(args.names) - {s.stem for s in chosen}
    if unknown:
        p.error(f"no notebook named {', '.join(sorted(unknown))}; there are {', '.join(s.stem for s in sources())}")
    for kind in [args.only] if args.only else BUILDS:
        for source in chosen:
            nb = build(source, solutions=kind == "solutions")
            if args.execute or args.html:
                execute(nb)
            target = args.out / kind / f"{source.stem}.ipynb"
            write_atomic(target, nbformat.writes(nb))
            if args.html:
                write_atomic(target.with_suffix(".html"), to_html(nb))
            print(f"{kind:9s} {target}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
