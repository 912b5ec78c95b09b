"""The layers of the house, read from the source with ast (nothing is imported):

- core (tinygrad_rnn/core) imports the standard library, numpy and the core only, all at module level, but
  for one call-time import: tape._recompute imports Tensor (tensor.py builds on tape.py);
- the models (tinygrad_rnn/nn, rnn, optim, tasks, corpus) never import the teaching tools (tinygrad_rnn/teach);
- nothing in tinygrad_rnn imports viz, graphviz, matplotlib or torch;
- nothing imports the command line (viz/cli) but the command line itself;
- no import cycle between modules (imports at module level);
- no function of the core is longer than a screenful (MAX_LINES).
"""
import ast
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("tinygrad_rnn", "viz")
CORE = "tinygrad_rnn.core"
TEACH = "tinygrad_rnn.teach"
MODELS = ("tinygrad_rnn.nn", "tinygrad_rnn.rnn", "tinygrad_rnn.optim", "tinygrad_rnn.tasks", "tinygrad_rnn.corpus")
CLI = "viz.cli"
NEVER_IN_TINYGRAD_RNN = ("viz", "graphviz", "matplotlib", "torch")
CALL_TIME_EXCEPTION = ("tinygrad_rnn.core.tape", "_recompute", "tinygrad_rnn.core.tensor")   # the one allowed
MAX_LINES = 60


def _module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _is_package(name):
    return MODULES.get(name, pathlib.Path()).name == "__init__.py"


def _within(name, prefix):
    return name == prefix or name.startswith(prefix + ".")


def _imports(name):
    """(imported module, enclosing function or None, line) for every import in module `name`. `from P import x`
    counts as importing P.x when that is one of our modules, else P."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    package = name if _is_package(name) else name.rpartition(".")[0]
    found, stack = [], [(tree, None)]
    while stack:
        node, function = stack.pop()
        if isinstance(node, ast.Import):
            found += [(alias.name, function, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((sub if sub in MODULES else base, function, node.lineno))
        inner = node.name if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
        stack += [(child, inner) for child in ast.iter_child_nodes(node)]
    return found


IMPORTS = {name: _imports(name) for name in MODULES}


def _broken(rule_applies, allowed):
    return [f"{name}:{line} imports {target}" + (f" (in {fn})" if fn else "")
            for name in MODULES if rule_applies(name)
            for target, fn, line in IMPORTS[name] if not allowed(name, target, fn)]


def test_the_modules_are_found():
    assert {"tinygrad_rnn.core.tape", "tinygrad_rnn.core.ops", "tinygrad_rnn.rnn", "tinygrad_rnn.teach.stepper",
            "viz.view", "viz.cli.draw"} <= set(MODULES)
    tape = {(t, fn) for t, fn, _ in IMPORTS["tinygrad_rnn.core.tape"]}   # relative imports resolved:
    assert {("tinygrad_rnn.core.ops", None), ("tinygrad_rnn.core.lazy", None), ("numpy", None),
            ("tinygrad_rnn.core.tensor", "_recompute")} <= tape              # the exception is still there
    assert ("tinygrad_rnn.teach.seed", None) in {(t, fn) for t, fn, _ in IMPORTS["tinygrad_rnn"]}


def test_core_imports_numpy_and_the_core_only():
    def allowed(name, target, fn):
        if fn is not None:                               # call-time: only the one named exception
            return (name, fn, target) == CALL_TIME_EXCEPTION
        top = target.split(".")[0]
        return _within(target, CORE) or top == "numpy" or (top in sys.stdlib_module_names and top != "tinygrad_rnn")
    broken = _broken(lambda name: _within(name, CORE), allowed)
    assert not broken, "\n".join(broken)


def test_models_never_import_the_teaching_tools():
    broken = _broken(lambda name: name in MODELS, lambda name, target, fn: not _within(target, TEACH))
    assert not broken, "\n".join(broken)


def test_nothing_in_tinygrad_rnn_imports_drawing_or_torch():
    def allowed(name, target, fn):
        return target.split(".")[0] not in NEVER_IN_TINYGRAD_RNN
    broken = _broken(lambda name: _within(name, "tinygrad_rnn"), allowed)
    assert not broken, "\n".join(broken)


def test_nothing_imports_the_command_line_but_itself():
    broken = _broken(lambda name: not _within(name, CLI), lambda name, target, fn: not _within(target, CLI))
    assert not broken, "\n".join(broken)


def _cycle(graph):
    """One import cycle as a list of modules [a, b, ..., a], or None. Depth-first, with an explicit stack."""
    state = {}                                           # module -> "open" while on the path, "done" after
    for start in graph:
        if start in state:
            continue
        path, stack = [], [(start, iter(graph[start]))]
        state[start] = "open"
        path.append(start)
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = "done"
            elif state.get(child) == "open":
                return path[path.index(child):] + [child]
            elif child not in state:
                state[child] = "open"
                path.append(child)
                stack.append((child, iter(graph[child])))
    return None


def test_no_import_cycle():
    graph = {name: sorted({t for t, fn, _ in IMPORTS[name] if fn is None and t in MODULES and t != name})
             for name in MODULES}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": []}) == ["a", "b", "c", "a"]
    assert _cycle({"a": ["b", "c"], "b": ["c"], "c": []}) is None


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _within(n, CORE)))
def test_core_functions_fit_a_screen(name):
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    long = [f"{f.name} ({f.end_lineno - f.lineno + 1} lines)" for f in ast.walk(tree)
            if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and f.end_lineno - f.lineno + 1 > MAX_LINES]
    assert not long, f"{name}: " + ", ".join(long)
