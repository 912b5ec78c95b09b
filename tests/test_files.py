"""Every file the project writes is written atomically: a unique temporary file in the same folder, fsync,
rename; the old file's mode kept; a symlink written through to its target; `<path>.tmp` never touched."""
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_rnn as tg
import viz
from tinygrad_rnn import files
from viz import plots

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def small_loss():
    w = tg.Tensor(np.array([[0.5, -0.2], [0.1, 0.3]]), requires_grad=True, name="W")
    return (w @ tg.Tensor(np.ones(2))).tanh().sum()


def write_model(path):
    tg.nn.Linear(2, 1).save(path)


def write_dot(path):
    viz.save(small_loss(), path)


def write_svg(path):
    viz.save(small_loss(), path)


def write_player(path):
    viz.player(small_loss(), check="none").save(path)


def write_plot(path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    plots.save_figure(fig, path)


WRITERS = {"model.npz": write_model, "graph.dot": write_dot, "graph.svg": write_svg,
           "page.html": write_player, "plot.png": write_plot}


@pytest.mark.parametrize("name", WRITERS)
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(name, tmp_path, monkeypatch):
    path = tmp_path / name
    path.write_bytes(b"the complete old file")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        WRITERS[name](path)
    assert path.read_bytes() == b"the complete old file"
    assert os.listdir(tmp_path) == [name]


@pytest.mark.parametrize("name", WRITERS)
def test_mode_symlinks_and_a_foreign_tmp_file_are_respected(name, tmp_path):
    target = tmp_path / "real" / name
    target.parent.mkdir()
    target.write_bytes(b"old")
    os.chmod(target, 0o600)
    link = tmp_path / ("link-" + name)
    link.symlink_to(target)
    foreign = tmp_path / (link.name + ".tmp")
    foreign.write_bytes(b"someone else's file")
    (tmp_path / "real" / (name + ".tmp")).write_bytes(b"another one")
    WRITERS[name](link)
    assert link.is_symlink() and os.readlink(link) == str(target)       # still a link, to the same file
    assert target.read_bytes() != b"old" and target.stat().st_size > 100
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert foreign.read_bytes() == b"someone else's file"
    assert (tmp_path / "real" / (name + ".tmp")).read_bytes() == b"another one"
    assert sorted(os.listdir(tmp_path / "real")) == sorted([name, name + ".tmp"])


def test_a_new_file_gets_the_umask_mode_and_paths_may_be_bytes(tmp_path):
    old = os.umask(0o027)
    try:
        path = files.write_text(os.fsencode(tmp_path / "new.txt"), "é")
    finally:
        os.umask(old)
    assert path == str(tmp_path / "new.txt")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert (tmp_path / "new.txt").read_text(encoding="utf-8") == "é"
    with pytest.raises(TypeError, match="write: path must be a str, bytes or os.PathLike, got int"):
        files.write_bytes(3, b"")


def test_the_cli_prints_a_path_it_cannot_encode_and_succeeds(tmp_path):
    env = dict(os.environ, PYTHONIOENCODING="ascii", PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, "-m", "viz.cli", "draw", "--model", "seed", "--out", "é.svg"],
                          cwd=tmp_path, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "é.svg").stat().st_size > 1000
    assert b"wrote \\xe9.svg" in done.stdout
