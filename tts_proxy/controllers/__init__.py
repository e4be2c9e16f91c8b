"""Controllers, one per file, found by name.

The registry loads every module of this package and every ``*.py`` in the extra directories
it is given (where discovery writes new controllers). A module contributes each
``Controller`` subclass it defines that has a ``name``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from tts_proxy.controllers.base import Controller, Limits
from tts_proxy.errors import ControllerLoadError, UnknownControllerError

__all__ = ["Controller", "ControllerRegistry", "Limits"]

_NOT_CONTROLLERS = {"base"}


def _controllers_in(module: ModuleType) -> list[type[Controller]]:
    return [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, Controller)
        and obj.__module__ == module.__name__
        and not inspect.isabstract(obj)
        and obj.name
    ]


def load_controller_file(path: Path) -> list[type[Controller]]:
    """Import one controller file and return the controllers it defines."""
    module_name = f"tts_proxy_ext_{path.stem}_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ControllerLoadError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    try:
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise ControllerLoadError(f"{path}: {type(exc).__name__}: {exc}") from exc
    found = _controllers_in(module)
    if not found:
        raise ControllerLoadError(f"{path} defines no Controller subclass with a name")
    return found


class ControllerRegistry:
    """Controllers by name: the built-ins plus the files in ``extra_dirs``."""

    def __init__(self, extra_dirs: Sequence[Path] = ()) -> None:
        self.extra_dirs = [Path(d) for d in extra_dirs]
        self.errors: dict[str, str] = {}
        self._by_name: dict[str, type[Controller]] = {}
        self.reload()

    def reload(self) -> None:
        """Load the built-ins and every extra file again; broken files are kept in ``errors``."""
        found: dict[str, type[Controller]] = {}
        for info in pkgutil.iter_modules(__path__):
            if info.name not in _NOT_CONTROLLERS:
                module = importlib.import_module(f"{__name__}.{info.name}")
                for cls in _controllers_in(module):
                    found[cls.name] = cls
        errors: dict[str, str] = {}
        for directory in self.extra_dirs:
            for path in sorted(directory.glob("*.py")):
                try:
                    for cls in load_controller_file(path):
                        found[cls.name] = cls
                except ControllerLoadError as exc:
                    errors[str(path)] = exc.message
        self._by_name, self.errors = found, errors

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def get(self, name: str) -> type[Controller]:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownControllerError(
                f"unknown controller {name!r}; available: {', '.join(self.names())}",
                param="tts.controller",
            ) from None
