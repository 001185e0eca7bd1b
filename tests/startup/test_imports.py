"""hub.imports.without_modules: a library imported without an optional extra takes its fallback."""

from __future__ import annotations

import importlib
import sys

import pytest

from hub.imports import without_modules


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
