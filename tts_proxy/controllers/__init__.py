"""Controllers, one per file, found by name.

The registry loads every module of this package and every ``*.py`` in the extra directories
it is given (where discovery writes new controllers). A module contributes each
``Controller`` subclass it defines that has a ``name``. With a ``gate`` (the proxy passes
``tts_proxy.discovery.gate``), an extra file is imported only once the gate has passed it;
verdicts are kept per file version, so an unchanged file is not checked again.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import sys
from collections.abc import Callable, Sequence
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


FileVersion = tuple[str, int, int]  # path, mtime in ns, size
Gate = Callable[[Path], str | None]  # a file -> why it is refused, or None


class ControllerRegistry:
    """Controllers by name: the built-ins plus the files in ``extra_dirs``."""

    def __init__(self, extra_dirs: Sequence[Path] = (), gate: Gate | None = None) -> None:
        self.extra_dirs = [Path(d) for d in extra_dirs]
        self.gate = gate
        self.errors: dict[str, str] = {}
        self._by_name: dict[str, type[Controller]] = {}
        self._verdicts: dict[FileVersion, str | None] = {}
        self.reload()

    def versions(self) -> list[FileVersion]:
        """The extra files as they are now: a change here means a reload is due."""
        out = []
        for directory in self.extra_dirs:
            for path in sorted(directory.glob("*.py")):
                try:
                    st = path.stat()
                except OSError:
                    continue
                out.append((str(path), st.st_mtime_ns, st.st_size))
        return out

    def _refusal(self, version: FileVersion) -> str | None:
        if self.gate is None:
            return None
        if version not in self._verdicts:
            self._verdicts[version] = self.gate(Path(version[0]))
        return self._verdicts[version]

    def reload(self) -> None:
        """Load the built-ins and every extra file again; broken files are kept in ``errors``."""
        found: dict[str, type[Controller]] = {}
        for info in pkgutil.iter_modules(__path__):
            if info.name not in _NOT_CONTROLLERS:
                module = importlib.import_module(f"{__name__}.{info.name}")
                for cls in _controllers_in(module):
                    found[cls.name] = cls
        errors: dict[str, str] = {}
        builtins = set(found)
        for version in self.versions():
            path = Path(version[0])
            refusal = self._refusal(version)
            if refusal is not None:
                errors[str(path)] = f"refused by the gate: {refusal}"
                continue
            try:
                for cls in load_controller_file(path):
                    if cls.name in builtins:
                        raise ControllerLoadError(f"{path}: {cls.name!r} is a built-in's name")
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
