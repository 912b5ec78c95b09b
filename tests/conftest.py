"""Shared fixtures. torch and the browser are optional for a user's run, required in CI."""
import importlib
import os
import shutil
import tempfile

import numpy as np
import pytest


def required(env_var):
    """Is env_var set to require a piece (CI sets it to 1)? Unset, empty or 0: no."""
    return os.environ.get(env_var, "").strip() not in ("", "0")


def _optional(module, env_var, why):
    """Import `module`, or skip — unless env_var is set (CI), where its absence is a failure."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        if required(env_var):
            pytest.fail(f"{module} is required here ({env_var} is set) but cannot be imported: {err}")
        pytest.skip(f"{module} not installed: {why}")


@pytest.fixture
def torch():
    """PyTorch for parity tests (CI installs torch==2.13.0 and sets TINYGRAD_RNN_REQUIRE_TORCH=1)."""
    torch = _optional("torch", "TINYGRAD_RNN_REQUIRE_TORCH", "PyTorch parity tests skipped")
    torch.set_default_dtype(torch.float64)
    return torch


@pytest.fixture(scope="session")
def jupyter():
    """The Jupyter pieces the notebooks' build needs (the `notebooks` extra; CI installs it and sets
    TINYGRAD_RNN_REQUIRE_NOTEBOOKS=1). Returns nbformat."""
    for module in ("jupytext", "nbclient", "nbconvert", "ipykernel"):
        _optional(module, "TINYGRAD_RNN_REQUIRE_NOTEBOOKS", "notebook tests skipped (pip install -e '.[notebooks]')")
    return _optional("nbformat", "TINYGRAD_RNN_REQUIRE_NOTEBOOKS", "notebook tests skipped")


@pytest.fixture
def shots(tmp_path):
    """Where browser tests save their screenshots: $TINYGRAD_RNN_SCREENSHOTS, or pytest's tmp dir."""
    where = os.environ.get("TINYGRAD_RNN_SCREENSHOTS")
    if where:
        os.makedirs(where, exist_ok=True)
        return where
    return str(tmp_path)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium driven by selenium (Debian's chromium + chromium-driver; CI installs them and sets
    TINYGRAD_RNN_REQUIRE_BROWSER=1). The driver is the installed chromedriver: selenium never downloads one."""
    webdriver = _optional("selenium.webdriver", "TINYGRAD_RNN_REQUIRE_BROWSER", "browser tests skipped")
    from selenium.webdriver.chrome.service import Service
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        why = "chromium and chromedriver are needed (Debian: apt-get install chromium chromium-driver)"
        if required("TINYGRAD_RNN_REQUIRE_BROWSER"):
            pytest.fail(f"a browser is required here (TINYGRAD_RNN_REQUIRE_BROWSER is set): {why}")
        pytest.skip(why)
    profile = tempfile.mkdtemp(prefix="tinygrad-rnn-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-dev-shm-usage", "--window-size=1500,1000", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
