"""Real JupyterLab + Debian's Chromium (Playwright) for browser tests.

``lab_server`` starts ``jupyter lab`` on 127.0.0.1 with a token, a temporary root directory
and a temporary store; ``lab_page`` opens a Chromium page on it. Screenshots go to
``test-artifacts/`` so a person can look at them. ``start_lab(base)`` starts another such Lab
(its own store, settings and workspaces under ``base``) for tests that need one of their own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from tests.components import skip_or_fail

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass
class LabServer:
    url: str
    token: str
    root: Path
    store_url: str
    env: dict[str, str]

    def lab_url(self, path: str = "lab") -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.url}{path}{sep}token={self.token}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the Jupyter server exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.3)
    raise RuntimeError(f"the Jupyter server did not answer at {url}:\n{log.read_text()[-3000:]}")


def require_chromium() -> None:
    """Skip when Debian's chromium is missing; fail when the whole suite was asked for (CI=true
    or ./scripts/test)."""
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"{CHROMIUM} is missing (scripts/setup installs Debian's chromium)")


LAB_ONLY_FLAGS = {
    "lab": ("--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate")
}


@contextlib.contextmanager
def start_lab(
    base: Path, log_name: str = "lab.log", app: str = "lab", store_url: str | None = None
) -> Iterator[LabServer]:
    """Run ``jupyter lab`` (or ``app="notebook"``: Notebook 7) with its root, store, settings
    and workspaces under ``base`` (``store_url``: another store, e.g. PostgreSQL).

    The server log is copied to ``test-artifacts/<log_name>`` when it stops.
    """
    root = base / "root"
    root.mkdir()
    store_url = store_url or f"sqlite:///{base / 'mlops.db'}"
    token = uuid.uuid4().hex
    port = _free_port()
    env = dict(os.environ)
    env.update(
        {
            "JUPYTER_MLOPS_STORE": store_url,
            "JUPYTER_MLOPS_ARTIFACTS": str(base / "artifacts"),
            "JUPYTERLAB_SETTINGS_DIR": str(base / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
            "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        }
    )
    env.pop("JUPYTER_MLOPS_LIVE", None)
    # No "get notified about Jupyter news?" toast over the screenshots.
    news = base / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    log = base / "lab.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter",
                app,
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={port}",
                "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={token}",
                "--ServerApp.allow_root=True",
                f"--ServerApp.root_dir={root}",
                *LAB_ONLY_FLAGS.get(app, ()),
            ],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_http(f"{url}api/status?token={token}", 90, proc, log)
        yield LabServer(url=url, token=token, root=root, store_url=store_url, env=env)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(log, ARTIFACTS / log_name)


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    require_chromium()
    with start_lab(tmp_path_factory.mktemp("lab")) as server:
        yield server


# Module scope, not session: while Playwright's sync API is running, the main thread has an
# event loop that nbclient/pytest-jupyter in later test modules must not find.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield instance
        instance.close()


@pytest.fixture
def lab_page(browser: object, lab_server: LabServer) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def python_notebook(*sources: str) -> nbformat.NotebookNode:
    """A notebook of code cells with the python3 kernelspec (Lab opens it without asking)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    return nb


def run_cell(page: object, index: int, timeout_s: float = 90) -> None:
    """Execute code cell ``index`` of the open notebook and wait until it has started.

    Retries the click-and-run: right after a notebook opens, Lab may not yet have put
    keyboard focus where the click suggests.
    """
    cell = page.locator(".jp-Notebook .jp-CodeCell").nth(index)  # type: ignore[attr-defined]
    prompt = cell.locator(".jp-InputPrompt")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        dismiss_dialogs(page)
        try:
            cell.locator(".jp-InputArea-editor").click(timeout=10_000)
        except Exception:  # Playwright's TimeoutError: a dialog appeared meanwhile; retry
            continue
        page.keyboard.press("Control+Enter")  # type: ignore[attr-defined]
        for _ in range(50):
            text = prompt.inner_text()
            if "*" in text or any(ch.isdigit() for ch in text):
                return
            time.sleep(0.2)
    raise AssertionError(f"cell {index} never started running")


# Dialogs Lab may open over a cell that ask a question rather than report a problem, and the
# button that answers it as the test intends. Any other dialog is an error and fails the test.
BENIGN_DIALOGS = {
    "Select Kernel": ".jp-mod-accept",  # a slow session start asks; the default is python3
}


def dismiss_dialogs(page: object) -> list[str]:
    """Answer a question dialog Lab put over the page (``BENIGN_DIALOGS``); fail the test on
    any other, an error dialog, with its text and a screenshot in test-artifacts/."""
    texts = []
    dialogs = page.locator(".jp-Dialog")  # type: ignore[attr-defined]
    while dialogs.count():
        dialog = dialogs.first
        title = dialog.locator(".jp-Dialog-header").inner_text().strip()
        text = dialog.inner_text().strip()
        texts.append(text)
        shot = screenshot(page, f"dialog-{len(texts)}-{int(time.time())}")
        button = BENIGN_DIALOGS.get(title)
        if button is None:
            raise AssertionError(f"JupyterLab showed a dialog ({shot.name}): {text!r}")
        print(f"answering a JupyterLab dialog: {text!r}")
        dialog.locator(f"button{button}").first.click()
        dialog.wait_for(state="detached", timeout=10_000)
    return texts


def screenshot(page: object, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))  # type: ignore[attr-defined]
    return path
