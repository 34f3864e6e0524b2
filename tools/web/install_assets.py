"""Install the browser assets the website serves itself, so it needs no network.

The built book renders math with MathJax 3 and interactive outputs with the
Jupyter widget manager. By default Sphinx and myst-nb would load both from
public CDNs; a reader offline, or a browser that blocks third parties, would
then see raw ``$...$`` and empty boxes. This script installs the exact versions
pinned in ``tools/web/package-lock.json`` with ``npm ci`` and copies only the
files the pages load into ``.web/static/vendor/``, which ``_config.yml`` hands
to Sphinx as a static path:

``.web/static/vendor/mathjax/``
    the es5 build of MathJax 3: ``tex-mml-chtml.js`` (the file Sphinx loads
    by default from its CDN), the TeX extensions it autoloads, the CHTML
    output with its woff-v2 fonts, and the menu's accessibility components.
``.web/static/vendor/requirejs/require.js``
    the AMD loader the widget manager expects on the page.
``.web/static/vendor/jupyter-widgets/html-manager/dist/embed-amd.js``
    ``@jupyter-widgets/html-manager`` 1.0.x, whose one file bundles
    ``@jupyter-widgets/base`` 6 and ``@jupyter-widgets/controls`` 5, the
    JavaScript halves of ipywidgets 8, so no widget module is fetched; its
    icon fonts (Font Awesome) sit beside it. ``book/_static/kit-widgets-setup.js``
    (committed, not downloaded) tells RequireJS where they are.

Everything downloaded stays under ``.web/`` (git-ignored): npm runs in
``.web/npm/`` on a copy of ``package.json`` and ``package-lock.json``.
Run from anywhere; ``tools/setup.sh`` runs it as
``.venv/bin/python tools/web/install_assets.py``. On failure it prints one line
saying what went wrong and exits with status 1.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WEB = ROOT / ".web"
NPM_DIR = WEB / "npm"
STATIC = WEB / "static"
VENDOR = STATIC / "vendor"

# The MathJax entry point, relative to mathjax/es5. Sphinx's own default
# (mathjax_path) is this file on jsDelivr, so the pages behave the same.
MATHJAX_ENTRY = "tex-mml-chtml.js"
# Directories of mathjax/es5 that the entry point loads on demand: TeX
# extensions (autoload, \require), the CHTML fonts, the context menu and the
# accessibility tools the menu can switch on (speech rule engine included).
MATHJAX_DIRS = ("input", "output/chtml", "ui", "a11y", "sre")


class AssetError(Exception):
    """Something the reader must fix; the message says what."""


def say(message: str) -> None:
    print(f"kit web assets: {message}", flush=True)


def run_npm() -> Path:
    """Run ``npm ci`` on a copy of the lock file; return the node_modules path."""
    npm = shutil.which("npm")
    if npm is None:
        raise AssetError("npm is not installed (sudo apt-get install npm), so math and widgets cannot be served offline")
    lock = HERE / "package-lock.json"
    if not lock.is_file():
        raise AssetError(f"{lock.relative_to(ROOT)} is missing; run `npm install` in tools/web to create it")
    NPM_DIR.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(HERE / name, NPM_DIR / name)
    cmd = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    proc = subprocess.run(cmd, cwd=NPM_DIR, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = " | ".join(line.strip() for line in (proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise AssetError(f"`npm ci` failed in {NPM_DIR.relative_to(ROOT)} (exit {proc.returncode}): {tail}")
    return NPM_DIR / "node_modules"


def copy_file(src: Path, dst: Path) -> None:
    if not src.is_file():
        raise AssetError(f"expected {src} after npm ci; is package-lock.json current?")
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)


def copy_tree(src: Path, dst: Path) -> None:
    if not src.is_dir():
        raise AssetError(f"expected the folder {src} after npm ci; is package-lock.json current?")
    shutil.copytree(src, dst, dirs_exist_ok=True)


def install_vendor(modules: Path) -> None:
    """Copy the files the pages load from node_modules into .web/static/vendor."""
    staging = STATIC / "vendor.new"
    shutil.rmtree(staging, ignore_errors=True)

    es5 = modules / "mathjax" / "es5"
    copy_file(es5 / MATHJAX_ENTRY, staging / "mathjax" / MATHJAX_ENTRY)
    for sub in MATHJAX_DIRS:
        copy_tree(es5 / sub, staging / "mathjax" / sub)
    copy_file(modules / "mathjax" / "LICENSE", staging / "mathjax" / "LICENSE")

    copy_file(modules / "requirejs" / "require.js", staging / "requirejs" / "require.js")

    # Keep the package's own layout under vendor/jupyter-widgets/ so that the
    # module URLs set by book/_static/kit-widgets-setup.js point at the folder
    # that holds the fonts.
    dist = modules / "@jupyter-widgets" / "html-manager" / "dist"
    widgets = staging / "jupyter-widgets"
    copy_file(dist / "embed-amd.js", widgets / "html-manager" / "dist" / "embed-amd.js")
    for font in dist.iterdir():
        if font.suffix in {".woff2", ".woff", ".ttf", ".eot", ".svg"}:
            copy_file(font, widgets / "html-manager" / "dist" / font.name)
    # The embed-amd.js bundle carries its licences in its header comments.
    copy_file(dist.parent / "package.json", widgets / "html-manager" / "package.json")

    # Swap in the new tree only once it is complete.
    shutil.rmtree(VENDOR, ignore_errors=True)
    staging.rename(VENDOR)


def main() -> int:
    try:
        modules = run_npm()
        install_vendor(modules)
    except (AssetError, OSError) as exc:
        say(f"FAILED: {exc}")
        return 1
    size = sum(p.stat().st_size for p in VENDOR.rglob("*") if p.is_file())
    say(f"MathJax, RequireJS and the widget manager are in {VENDOR.relative_to(ROOT)} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
