"""Module.load is bounded by the model, whatever the file says: sizes are checked before inflating."""
import io
import os
import threading
import tracemalloc
import zipfile

import numpy as np
import pytest

import tinygrad_rnn as tg


def npy_bytes(array):
    f = io.BytesIO()
    np.lib.format.write_array(f, array)
    return f.getvalue()


def refused_in_small_memory(m, path, match):
    """m.load(path) raises a ValueError matching `match`, having allocated less than 4 MiB on the way."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=match):
            m.load(path)
        assert tracemalloc.get_traced_memory()[1] < 4 << 20
    finally:
        tracemalloc.stop()


def test_a_bzip2_bomb_is_refused_without_inflating_it(tmp_path):
    """A few hundred bytes of bzip2 that inflate to 64 MB of zeros: zipfile inflates bzip2 in one piece of
    any size, so such a member is refused from the zip directory, before anything is inflated."""
    path = tmp_path / "bomb.npz"
    header = npy_bytes(np.zeros((3, 2)))[:-48]           # a (3, 2) float64 header, then far too much data
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_BZIP2) as z, z.open("weight.npy", "w") as f:
        f.write(header)
        for _ in range(64):
            f.write(bytes(1 << 20))
    assert path.stat().st_size < 2000
    refused_in_small_memory(tg.nn.Linear(2, 3, dtype=np.float64), path,
                            r"load: .*bomb.npz.*member 'weight.npy' is compressed with method 12")


def test_a_deflated_member_larger_than_the_model_is_refused_before_inflating(tmp_path):
    path = tmp_path / "big.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("weight.npy", npy_bytes(np.zeros((2000, 2000))))
        z.writestr("bias.npy", npy_bytes(np.zeros(3)))
    refused_in_small_memory(tg.nn.Linear(2, 3), path, r"member 'weight.npy' holds 32000128 bytes, more than the "
                                                      r"model's weight of shape \(3, 2\) can use")


def test_a_header_with_another_shape_and_unknown_members_are_never_read(tmp_path):
    path = tmp_path / "other.npz"
    np.savez_compressed(path, weight=np.zeros((2, 3)), bias=np.zeros(3))
    with pytest.raises(ValueError, match=r"member 'weight.npy' holds shape \(2, 3\), but the model's weight "
                                         r"has shape \(3, 2\)"):
        tg.nn.Linear(2, 3).load(path)
    np.savez(path, weight=np.ones((3, 2)), bias=np.ones(3), extra=np.zeros((500, 500)))
    m = tg.nn.Linear(2, 3).load(path, strict=False)      # extra: listed, never inflated
    np.testing.assert_array_equal(m.weight.data, np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"unexpected key: extra"):
        tg.nn.Linear(2, 3).load(path)
    np.savez(path, weight=np.array([["a", "b"]] * 3), bias=np.ones(3))
    with pytest.raises(ValueError, match=r"member 'weight.npy' holds <U1 values; load reads numbers"):
        tg.nn.Linear(2, 3).load(path)


def test_an_encrypted_member_is_a_clear_value_error(tmp_path):
    path = tmp_path / "locked.npz"
    tg.nn.Linear(2, 3).save(path)
    data = bytearray(path.read_bytes())
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):   # set the 'encrypted' flag bit
        at = data.find(signature)
        while at >= 0:
            data[at + flag_at] |= 1
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"load: .*locked.npz.*member 'weight.npy' is encrypted"):
        tg.nn.Linear(2, 3).load(path)


def test_a_fifo_or_folder_is_refused_at_once_and_paths_may_be_bytes(tmp_path):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    outcome = []

    def load():
        try:
            tg.nn.Linear(2, 3).load(fifo)
        except Exception as err:                         # reported below
            outcome.append(err)

    thread = threading.Thread(target=load, daemon=True)  # before: open() waited forever for a writer
    thread.start()
    thread.join(10)
    assert not thread.is_alive() and isinstance(outcome[0], ValueError)
    assert "is not a regular file" in str(outcome[0])
    with pytest.raises(ValueError, match="is not a regular file"):
        tg.nn.Linear(2, 3).load(tmp_path)
    path = tmp_path / "m.npz"
    saved = tg.nn.Linear(2, 3)
    saved.save(os.fsencode(path))
    loaded = tg.nn.Linear(2, 3).load(os.fsencode(path))
    np.testing.assert_array_equal(loaded.weight.data, saved.weight.data)
    with pytest.raises(TypeError, match=r"load: path must be a str, bytes or os.PathLike, got float"):
        tg.nn.Linear(2, 3).load(3.5)
