"""digitlab itself: its version, lazy submodules and each module's declared public surface."""
from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
import tomllib

import pytest

import digitlab
from digitlab import config

#: Modules whose ``__all__`` is checked (cli, data, plots, analysis and pen have their own tests).
MODULES = (*digitlab._SUBMODULES, "files", "backend", "script_formats")  # every module of the package


def test_version_is_the_one_in_pyproject():
    pyproject = tomllib.loads((config.REPO_ROOT / "pyproject.toml").read_text())
    assert digitlab.__version__ == pyproject["project"]["version"]


def test_importing_digitlab_loads_no_submodule_until_used():
    code = ("import sys, digitlab as dl; before = sorted(m for m in sys.modules if m.startswith('digitlab.')); "
            "dl.preprocess; print(before, 'digitlab.preprocess' in sys.modules, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[]", "True", "False"]


def test_every_listed_submodule_loads_on_attribute_access():
    for name in digitlab._SUBMODULES:
        assert getattr(digitlab, name) is importlib.import_module(f"digitlab.{name}")
    assert {"introspect", "analysis", "pen"} <= set(digitlab.__all__) <= set(dir(digitlab))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        digitlab.nope  # noqa: B018


@pytest.mark.parametrize("name", MODULES)
def test_all_lists_exactly_the_public_names_defined_in_the_module(name):
    module = importlib.import_module(f"digitlab.{name}")
    defined = {n for n, obj in vars(module).items() if not n.startswith("_")
               and (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__}
    assert defined <= set(module.__all__), f"public but not in __all__: {defined - set(module.__all__)}"
    assert all(hasattr(module, n) for n in module.__all__)
