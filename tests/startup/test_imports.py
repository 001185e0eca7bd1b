"""hub.imports: a library imported without an optional extra takes its fallback; one imported beside others."""

from __future__ import annotations

import importlib
import sys
import threading

import pytest

from hub.imports import side_by_side, without_modules


@pytest.fixture
def packages(tmp_path, monkeypatch):
    """A library that uses an optional package when it is installed, and that package."""
    (tmp_path / "s7_extra").mkdir()
    (tmp_path / "s7_extra" / "__init__.py").write_text("LOADED = True\n")
    (tmp_path / "s7_library.py").write_text(
        "try:\n    import s7_extra\n    HAS_EXTRA = True\nexcept ImportError:\n    HAS_EXTRA = False\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in ("s7_library", "s7_extra"):
        sys.modules.pop(name, None)


def test_the_library_falls_back_and_the_package_stays_importable(packages):
    with without_modules("s7_extra"):
        library = importlib.import_module("s7_library")
    assert library.HAS_EXTRA is False
    assert "s7_extra" not in sys.modules
    assert importlib.import_module("s7_extra").LOADED is True  # for whoever needs it later


def test_a_package_already_imported_is_left_as_it_is(packages):
    extra = importlib.import_module("s7_extra")
    with without_modules("s7_extra"):
        library = importlib.import_module("s7_library")
    assert library.HAS_EXTRA is True
    assert sys.modules["s7_extra"] is extra


def test_the_block_ends_even_when_the_import_fails(packages):
    with pytest.raises(ZeroDivisionError), without_modules("s7_extra"):
        1 / 0  # noqa: B018
    assert importlib.import_module("s7_extra").LOADED is True


@pytest.fixture
def side_modules(tmp_path, monkeypatch):
    """A library whose import waits outside the interpreter until another module's import lets it go on."""
    (tmp_path / "s11_gate.py").write_text("import threading\nopened = threading.Event()\n")
    (tmp_path / "s11_waits.py").write_text(
        "import threading\nimport s11_gate\nTHREAD = threading.current_thread().name\n"
        "OPENED = s11_gate.opened.wait(5)\n")
    (tmp_path / "s11_opens.py").write_text(
        "import threading\nimport s11_gate\nTHREAD = threading.current_thread().name\ns11_gate.opened.set()\n")
    (tmp_path / "s11_broken.py").write_text("raise ImportError('s11_broken cannot be imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in ("s11_gate", "s11_waits", "s11_opens", "s11_broken"):
        sys.modules.pop(name, None)


def test_the_background_import_runs_while_this_thread_imports(side_modules):
    # One after the other, s11_waits would wait the whole 5 s for what s11_opens does.
    side_by_side("s11_waits", ("s11_opens",))
    waits, opens = sys.modules["s11_waits"], sys.modules["s11_opens"]
    assert waits.OPENED is True
    assert waits.THREAD != opens.THREAD
    assert opens.THREAD == threading.current_thread().name


def test_a_failed_background_import_is_raised_by_the_next_import_of_it(side_modules):
    side_by_side("s11_broken", ("s11_opens",))
    assert "s11_opens" in sys.modules
    assert "s11_broken" not in sys.modules
    with pytest.raises(ImportError, match="s11_broken cannot be imported"):
        importlib.import_module("s11_broken")
