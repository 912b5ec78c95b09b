"""Writing files atomically: every file the project writes (Module.save, viz.save, Player.save, plots, the
CLI's outputs) goes through `replacing`, so a failed or interrupted write never leaves a half-written file
and never destroys the complete one that was there.

How: the data goes to a new temporary file in the target's own folder (a fresh name, created exclusively:
no other file is ever clobbered), is flushed and fsync'ed, and then renamed over the target in one step
(os.replace). The new file keeps the old one's permission bits (a 0600 file stays 0600; a new file gets
the umask's); a symlink stays a symlink and its target gets the new content.
"""
import contextlib
import os
import secrets

__all__ = ["replacing", "write_bytes", "write_text", "as_path"]


def as_path(path, owner):
    """`path` as a str: a str, bytes or os.PathLike; anything else is a TypeError naming `owner`."""
    try:
        return os.fsdecode(os.fspath(path))
    except TypeError:
        raise TypeError(f"{owner}: path must be a str, bytes or os.PathLike, got {type(path).__name__}") from None


@contextlib.contextmanager
def replacing(path, owner="write"):
    """`with replacing(path) as f: f.write(...)`: f is a binary file; `path` gets its content at the end
    of the block, all at once, or (on any exception) stays exactly as it was. Yields the open file."""
    target = _through_symlinks(as_path(path, owner))
    tmp, fd = _new_temporary(target)
    try:
        with os.fdopen(fd, "wb") as f:
            _keep_mode(target, f.fileno())
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_folder(os.path.dirname(target))


def write_bytes(path, data, owner="write"):
    """Write `data` (bytes) to `path` atomically; returns the path as given (a str)."""
    with replacing(path, owner) as f:
        f.write(data)
    return as_path(path, owner)


def write_text(path, text, owner="write"):
    """Write `text` as UTF-8 to `path` atomically; returns the path as given (a str)."""
    return write_bytes(path, text.encode("utf-8"), owner)


def _through_symlinks(path):
    """The file a write to `path` should replace: the final target when `path` is a symlink (so the link
    stays a link), else `path` itself."""
    return os.path.realpath(path) if os.path.islink(path) else path


def _new_temporary(target):
    """(name, fd) of a new, empty file beside `target`, created exclusively (O_EXCL) with mode 0666 less the
    umask, as open() would create the target itself."""
    folder, name = os.path.split(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(folder, f".{name[:200]}.{secrets.token_hex(6)}.tmp")
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:                          # another writer's temporary: pick another name
            continue


def _keep_mode(target, fd):
    """Give the new file the permission bits of the file it replaces (when there is one)."""
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return
    if hasattr(os, "fchmod"):
        os.fchmod(fd, mode & 0o7777)


def _sync_folder(folder):
    """Make the rename itself durable (best effort: not every system can fsync a folder)."""
    try:
        fd = os.open(folder or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
