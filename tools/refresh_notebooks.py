"""Re-execute the book's notebooks in place, so their stored outputs are current.

Every output in a chapter comes from the real engine. When the engine
changes on purpose, the outputs stored in the notebooks (which the notebook
test, ``tests/book``, compares against a fresh run with nbval) must be
refreshed: run this, look at the diff, commit it.

    .venv/bin/python tools/refresh_notebooks.py                 # every notebook under book/
    .venv/bin/python tools/refresh_notebooks.py book/part03-architecture/store.ipynb

Each notebook runs top to bottom in a fresh ``python3`` kernel whose working
directory is the notebook's own folder (as in JupyterLab and in the website
build), with the state of its widgets stored in the notebook's metadata (so
sliders and other controls work on a static page). No execution timings are
recorded, so an unchanged chapter gives an unchanged file apart from its
widgets' random model IDs. A cell that raises stops that notebook; the file
is left untouched and the error is reported in a few lines.

Exit status: 0 when every notebook ran, 1 otherwise.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"


def find_notebooks(paths: list[str]) -> list[Path]:
    """The notebooks named, or every notebook under book/ (checkpoints excluded)."""
    if not paths:
        return sorted(p for p in BOOK.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    found = []
    for name in paths:
        path = Path(name).resolve()
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        elif path.suffix == ".ipynb" and path.is_file():
            found.append(path)
        else:
            raise SystemExit(f"refresh_notebooks: {name} is not a notebook or a folder")
    return found


def refresh(path: Path, *, kernel: str = "python3", timeout: int = 600) -> float:
    """Execute ``path`` in place; return the seconds it took. Raises on a failing cell."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name=kernel,
        timeout=timeout,
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=True,
        record_timing=False,
        allow_errors=False,
    )
    started = time.monotonic()
    client.execute()
    elapsed = time.monotonic() - started
    nbformat.validate(notebook)
    nbformat.write(notebook, path)
    return elapsed


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _short_error(err: BaseException) -> str:
    # nbclient's CellExecutionError carries the cell's coloured traceback;
    # keep its last lines, without the colour codes.
    lines = [line for line in _ANSI.sub("", str(err)).strip().splitlines() if line.strip()]
    return "\n    ".join(lines[-6:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/refresh_notebooks.py", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks or folders (default: every notebook under book/)")
    parser.add_argument("--kernel", default="python3", help="kernel to run them in (default: python3)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default: 600)")
    args = parser.parse_args(argv)
    notebooks = find_notebooks(args.notebooks)
    if not notebooks:
        print("refresh_notebooks: no notebooks found")
        return 0
    failed = 0
    for path in notebooks:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        try:
            elapsed = refresh(path, kernel=args.kernel, timeout=args.timeout)
        except Exception as err:  # a failing cell, a dead kernel, a missing kernel
            failed += 1
            print(f"FAILED  {shown} (left unchanged): {type(err).__name__}\n    {_short_error(err)}", flush=True)
        else:
            print(f"ok      {shown} ({elapsed:.1f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
