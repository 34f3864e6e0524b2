"""The website builds with zero warnings and works with no network.

One module-scoped build runs the real ``jupyter-book build --all -W -n
--keep-going`` (every chapter executed on the real engine, warnings are
errors, nitpicky references) into a temporary folder. The HTML is then served
on 127.0.0.1 and opened in headless Chromium with every host but 127.0.0.1
unresolvable, so a page that still needs a CDN fails here instead of on a
reader's offline laptop. The page under test is the store chapter, which holds
display math and an ipywidgets widget:

- its DOM, after scripts ran, must contain MathJax output (``mjx-container``)
  for display math, and widgets rendered by the widget manager from the
  ``application/vnd.jupyter.widget-view+json`` placeholders;
- screenshots of it (its top, and its first widget) must be real pictures,
  not blank pages (kept in the test's temporary folder and copied to
  ``_build/screenshots/`` for humans).

Needs the website assets in ``.web/static`` (``make setup`` installs them with
tools/web/install_assets.py) and Chromium (``/usr/bin/chromium``).
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytestmark = [pytest.mark.book, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
# The page under test, relative to the HTML root: the store chapter
# (book/part03-architecture/store.ipynb).
PAGE = "book/part03-architecture/store.html"
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT_DIR = REPO / "_build" / "screenshots"  # copies for humans: store.png, store-widget.png
VENDOR = REPO / ".web" / "static" / "vendor"

BUILD_TIMEOUT = 3600  # seconds: every chapter runs, some start small clusters
BROWSER_TIMEOUT = 180
VIRTUAL_TIME_BUDGET_MS = 20000  # page time granted for MathJax and widgets
WINDOW_SIZE = (1280, 1600)

# Every request to a host other than 127.0.0.1 fails to resolve.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--enable-logging=stderr",
    "--v=0",
]


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _jupyter_book() -> str:
    beside_python = Path(sys.executable).with_name("jupyter-book")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("jupyter-book")
    if found is None:
        pytest.fail("jupyter-book is not installed in this environment: run `make setup`")
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """Build the book as `make book` does, into a temporary folder; return the HTML root."""
    if not (VENDOR / "mathjax").is_dir() or not (VENDOR / "jupyter-widgets").is_dir():
        pytest.fail(
            f"the offline website assets are missing from {VENDOR.relative_to(REPO)}: "
            "run `make setup` (or .venv/bin/python tools/web/install_assets.py)"
        )
    out = tmp_path_factory.mktemp("book")
    cmd = [_jupyter_book(), "build", "--all", "-W", "-n", "--keep-going", "--path-output", str(out), str(REPO)]
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    try:
        proc = subprocess.run(
            cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT
        )
    except subprocess.TimeoutExpired as exc:
        log = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        pytest.fail(f"the book build took longer than {BUILD_TIMEOUT} s; last lines:\n{_tail(log)}")
    log = proc.stdout + proc.stderr
    (out / "build.log").write_text(log)
    if proc.returncode != 0:
        pytest.fail(
            f"`{' '.join(cmd[:7])} ...` failed with exit code {proc.returncode} "
            f"(full log: {out / 'build.log'}); last lines:\n{_tail(log)}"
        )
    html = out / "_build" / "html"
    assert (html / "index.html").is_file(), f"the build succeeded but wrote no {html / 'index.html'}"
    return html


class _Server:
    """A static file server for the built site on 127.0.0.1, recording requests."""

    def __init__(self, root: Path):
        self.requests: list[tuple[str, int]] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_request(self, code="-", size="-"):
                server.requests.append((self.path, int(code) if str(code).isdigit() else 0))

            def log_message(self, format, *args):  # keep pytest's output clean
                pass

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(root))
        )
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, page: str) -> str:
        return f"http://127.0.0.1:{self.port}/{page}"

    def failed(self) -> list[tuple[str, int]]:
        return [(path, code) for path, code in self.requests if code >= 400 and path != "/favicon.ico"]


@pytest.fixture(scope="module")
def server(site):
    srv = _Server(site)
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()


@pytest.fixture(scope="module")
def chromium():
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (sudo apt-get install chromium)")
    return CHROMIUM


def _run_chromium(chromium: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    cmd = [str(chromium), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=BROWSER_TIMEOUT, cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail(f"Chromium did not finish within {BROWSER_TIMEOUT} s: {' '.join(cmd)}")
    return proc


def _console(stderr: str) -> str:
    """The page's console messages from Chromium's log, for failure reports."""
    lines = [line for line in stderr.splitlines() if ":CONSOLE" in line]
    return "\n".join(lines[-20:]) or "(no console messages)"


@pytest.fixture(scope="module")
def page_source(site) -> str:
    path = site / PAGE
    if not path.is_file():
        pytest.fail(f"the build has no {PAGE}: is book/part03-architecture/store.ipynb listed in _toc.yml?")
    return path.read_text(encoding="utf-8")


def test_no_page_loads_scripts_styles_or_fonts_from_the_network(site):
    remote = re.compile(
        r"<script\b[^>]*\bsrc=\"(https?:)?//[^\"]*\"|<link\b[^>]*\bhref=\"(https?:)?//[^\"]*\"", re.IGNORECASE
    )
    offenders = {}
    for html in sorted(site.rglob("*.html")):
        found = [m.group(0) for m in remote.finditer(html.read_text(encoding="utf-8"))]
        if found:
            offenders[str(html.relative_to(site))] = found[:3]
    assert not offenders, f"pages load assets from the network: {offenders}"
    for css in sorted((site / "_static").rglob("*.css")):
        text = css.read_text(encoding="utf-8", errors="replace")
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", text), f"{css.relative_to(site)} loads from the network"


def test_store_page_holds_display_math_and_a_widget(page_source):
    assert 'class="math notranslate nohighlight"' in page_source, (
        f"{PAGE} has no display math: the store chapter must contain a $$...$$ block"
    )
    assert "application/vnd.jupyter.widget-view+json" in page_source, (
        f"{PAGE} has no widget output: the store chapter must display an ipywidgets widget"
    )
    assert "application/vnd.jupyter.widget-state+json" in page_source, (
        f"{PAGE} has a widget view but no widget state: was the notebook executed at build time?"
    )
    for script in ("vendor/mathjax/tex-mml-chtml.js", "vendor/requirejs/require.js",
                   "kit-widgets-setup.js", "vendor/jupyter-widgets/html-manager/dist/embed-amd.js"):
        assert f"_static/{script}" in page_source, f"{PAGE} does not load _static/{script}"


def test_math_and_widgets_render_offline(page_source, server, chromium, tmp_path):
    proc = _run_chromium(
        chromium, tmp_path, f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}", "--dump-dom", server.url(PAGE)
    )
    dom = proc.stdout
    context = (
        f"\nChromium exit code {proc.returncode}; failed requests: {server.failed()}\n"
        f"console:\n{_console(proc.stderr)}"
    )
    assert "<body" in dom, f"Chromium returned no DOM for {PAGE}{context}"
    (tmp_path / "store.dom.html").write_text(dom, encoding="utf-8")

    # MathJax replaced the TeX with its CHTML output, display math included.
    assert re.search(r"<mjx-container\b[^>]*\bjax=\"CHTML\"", dom), f"MathJax did not render any math{context}"
    assert re.search(r"<mjx-container\b[^>]*\bdisplay=\"true\"", dom), f"MathJax did not render the display math{context}"
    assert "<mjx-merror" not in dom, f"MathJax reported a TeX error{context}"

    # The widget manager rendered each view placeholder into widget DOM.
    views = len(re.findall(r"application/vnd\.jupyter\.widget-view\+json", dom))
    subareas = len(re.findall(r"class=\"widget-subarea\"><div\b", dom))
    assert views >= 1, f"the page has no widget view{context}"
    assert subareas >= views, (
        f"only {subareas} of {views} widget views were rendered by the widget manager{context}"
    )
    classes = " ".join(re.findall(r"class=\"([^\"]*)\"", dom)).split()
    assert "jupyter-widgets" in classes, f"no element carries the jupyter-widgets class{context}"
    assert any(c.startswith("widget-") and c not in {"widget-subarea"} for c in classes), (
        f"no element carries a widget-* class{context}"
    )
    assert "widget-error" not in classes, f"the widget manager rendered an error widget{context}"

    # Every asset the page asked for came from this server.
    vendor_failures = [(p, c) for p, c in server.failed() if "/_static/" in p]
    assert not vendor_failures, f"assets missing from the built site: {vendor_failures}{context}"


def _check_picture(shot: Path) -> None:
    """Fail unless ``shot`` is a PNG of the window's size that shows text, not a blank page."""
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{shot.name} is not a PNG"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == WINDOW_SIZE, f"{shot.name} is {width}x{height}, not {WINDOW_SIZE}"

    Image = pytest.importorskip("PIL.Image")
    with Image.open(shot) as img:
        histogram = img.convert("L").histogram()
    pixels = width * height
    ink = sum(histogram[:128])  # dark pixels: text, math, widget outlines
    assert max(histogram) < 0.97 * pixels, f"{shot.name} is almost a single colour: a blank page?"
    assert ink > 0.002 * pixels, f"{shot.name} has almost no dark pixels: no text rendered?"
    assert sum(1 for count in histogram if count) > 32, f"{shot.name} has too few shades to hold text"


# Added to a copy of the page (in the temporary build, never in the book) so
# that a second screenshot shows the first widget rather than the page's top:
# it removes everything before the widget's cell. (Scrolling instead gives
# blank screenshots in headless Chromium.)
SHOW_FIRST_WIDGET = """
<script>
document.addEventListener("DOMContentLoaded", function () {
  var view = document.querySelector('script[type="application/vnd.jupyter.widget-view+json"]');
  var node = view && view.closest(".cell");
  while (node && node.parentElement && !node.matches("article, main, body")) {
    while (node.previousElementSibling) { node.previousElementSibling.remove(); }
    node = node.parentElement;
  }
});
</script>
"""


def test_screenshots_of_the_store_page(page_source, site, server, chromium, tmp_path):
    at_widget = Path(PAGE).with_suffix(".kit-widget.html").as_posix()
    (site / at_widget).write_text(page_source.replace("</body>", SHOW_FIRST_WIDGET + "</body>"), encoding="utf-8")

    for page, name in ((PAGE, "store.png"), (at_widget, "store-widget.png")):
        shot = tmp_path / name
        proc = _run_chromium(
            chromium,
            tmp_path,
            f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}",
            f"--window-size={WINDOW_SIZE[0]},{WINDOW_SIZE[1]}",
            f"--screenshot={shot}",
            server.url(page),
        )
        assert shot.is_file(), f"Chromium wrote no {name} (exit code {proc.returncode}):\n{_tail(proc.stderr, 20)}"
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT_DIR / name)
        _check_picture(shot)


@pytest.mark.parametrize(
    "page, expected",
    [
        ("book/part03-architecture/apiserver.html", ["_images/", ".svg", "422", "namespaces \"shop\" not found"]),
        ("book/part03-architecture/scheduling.html", ["_images/", ".svg", "Successfully assigned default/web to node-",
                                                     "0/3 nodes are available: 3 Insufficient cpu.", "CheapestNode(x10)"]),
        ("book/part04-declarative-api/declarative.html", ["deployment.apps/nginx-deployment created", "0/2",
                                                          "serverside-applied"]),
        ("book/part06-controllers/controllers.html", ["_images/", ".svg", "deployment.apps/nginx-deployment created",
                                                      "successfully rolled out", "rolled back", "NotReady"]),
    ],
    ids=["apiserver", "scheduling", "declarative", "controllers"],
)
def test_chapters_show_what_the_engine_printed(site, page, expected):
    path = site / page
    assert path.is_file(), f"the build has no {page}: is its notebook listed in _toc.yml?"
    text = path.read_text(encoding="utf-8")
    missing = [snippet for snippet in expected if snippet not in text]
    assert not missing, f"{page} lacks {missing}: the chapter's outputs did not reach the website"
    for image in re.findall(r'src="\.\./\.\./(_images/[^"]+\.svg)"', text):  # the pictures drawn from the live cluster
        assert "<svg" in (site / image).read_text(encoding="utf-8"), f"{image} is not an SVG picture"
