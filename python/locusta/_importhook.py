"""A ``sys.meta_path`` finder that makes ``import locust`` / ``from locust.x import y`` resolve to
locusta's compatibility package (``locusta.locust``) during a locusta run.

It aliases modules instead of copying or shadowing files, so one module object serves both
names (``locust.events is locusta.locust.events``); a real Locust installed in the same
environment is not touched and is importable again once the hook is removed.
"""

import importlib
import importlib.abc
import importlib.util
import sys

_ALIAS = "locust"
_TARGET = "locusta.locust"


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target):
        self._target = target

    def create_module(self, spec):
        module = importlib.import_module(self._target)
        self._original_spec = module.__spec__
        return module

    def exec_module(self, module):
        # importlib stamped the alias spec on the shared module; give it back its own.
        module.__spec__ = self._original_spec


class LocustAliasFinder(importlib.abc.MetaPathFinder):
    """Finds ``locust`` and ``locust.*`` as the matching ``locusta.locust`` modules."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != _ALIAS and not fullname.startswith(_ALIAS + "."):
            return None
        real = _TARGET + fullname[len(_ALIAS):]
        if importlib.util.find_spec(real) is None:
            return None
        module = importlib.import_module(real)
        is_pkg = hasattr(module, "__path__")
        spec = importlib.util.spec_from_loader(fullname, _AliasLoader(real), is_package=is_pkg)
        if is_pkg:
            spec.submodule_search_locations = list(module.__path__)
        return spec


_finder = None


def fallback_spec(fullname, path=None, target=None):
    """Outside a run, where no real Locust is installed: ``import locust`` gives locusta's
    package, so scripts that use Locust as a library (``run_single_user``, ``Environment``)
    run with locusta alone.

    Called by the finder that ``locusta-locust-fallback.pth`` (installed next to the packages,
    see ``python-data/``) puts last in ``sys.meta_path`` at start-up: it is asked about
    ``locust`` only when no installed package answered. The hook is then installed (first in
    line, so ``locust.*`` submodules resolve too) and answers. The .pth file holds its finder
    inline, so nothing of locusta is imported before ``import locust`` (pytest warns about
    modules of a plugin's distribution imported before it starts)."""
    install()
    return _finder.find_spec(fullname, path, target)


def install():
    """Installs the hook (first in ``sys.meta_path``) and drops any real ``locust`` modules
    already imported, so the next import resolves to locusta's."""
    global _finder
    if _finder is None:
        _finder = LocustAliasFinder()
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    sys.meta_path.insert(0, _finder)
    for name in list(sys.modules):
        if name == _ALIAS or name.startswith(_ALIAS + "."):
            mod = sys.modules[name]
            if not getattr(mod, "__name__", "").startswith(_TARGET):
                del sys.modules[name]


def uninstall():
    """Removes the hook and the aliases, so ``import locust`` finds the real Locust again."""
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    for name in list(sys.modules):
        if name == _ALIAS or name.startswith(_ALIAS + "."):
            del sys.modules[name]
