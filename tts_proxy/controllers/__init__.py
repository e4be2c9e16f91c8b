"""Controllers, one per file, found by name.

The registry serves the built-ins (every controller module of this package) and what the
extra directories hold (where discovery writes):

- ``*.json``: controller documents (``document``) -- data, interpreted by built-in code; a
  piece of one may name a controller file beside it, pinned by its SHA-256 and judged as
  the ``*.py`` files below are (the document is served as its least trusted piece);
- ``*.py`` whose SHA-256 is in the operator's trust list (``trust``): imported in process;
- any other ``*.py``: code the project did not write. It passes the gate (``gate``: a lint,
  then a run in the OS sandbox) and is then served from a sandboxed worker (``remote``), or,
  with ``untrusted="refuse"``, not at all.

Verdicts are kept per file version (path, mtime, size), so an unchanged file is not checked
again; each file's verdict (``files``) says how it is served, or why it is not.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import pkgutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Literal

from tts_proxy.controllers.base import Controller, Limits
from tts_proxy.controllers.sandbox import SERVE_LIMITS
from tts_proxy.controllers.sandbox import Limits as SandboxLimits
from tts_proxy.controllers.trust import Trust, TrustList
from tts_proxy.errors import ControllerLoadError, UnknownControllerError
from tts_proxy.watched import FileVersion, file_versions

if TYPE_CHECKING:
    from tts_proxy.controllers.document import FileSpec
    from tts_proxy.controllers.gate import GateResult

__all__ = ["Controller", "ControllerFile", "ControllerRegistry", "Limits", "Trust"]

# Modules of this package that are machinery, not controllers.
_NOT_CONTROLLERS = {
    "base", "document", "gate", "isolated", "remote", "sandbox", "stitched", "trust", "wire",
}  # fmt: skip


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


def builtin_controllers() -> dict[str, type[Controller]]:
    """The project's own controllers, by name."""
    found: dict[str, type[Controller]] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name not in _NOT_CONTROLLERS:
            module = importlib.import_module(f"{__name__}.{info.name}")
            found |= {cls.name: cls for cls in _controllers_in(module)}
    return found


def controllers_in_source(source: str, filename: str) -> list[type[Controller]]:
    """Run a controller file's source as a module; the controllers it defines. Only for code
    that is trusted, or inside the sandbox (``isolated``): running it runs whatever it does."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    module_name = f"tts_proxy_ext_{Path(filename).stem}_{digest}"
    module = ModuleType(module_name)
    module.__file__ = filename
    try:
        sys.modules[module_name] = module
        exec(compile(source, filename, "exec"), module.__dict__)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise ControllerLoadError(f"{filename}: {type(exc).__name__}: {exc}") from exc
    found = _controllers_in(module)
    if not found:
        raise ControllerLoadError(f"{filename} defines no Controller subclass with a name")
    return found


def load_controller_file(path: Path) -> list[type[Controller]]:
    """Import one (trusted) controller file and return the controllers it defines."""
    try:
        source = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ControllerLoadError(f"cannot read {path}: {exc}") from exc
    return controllers_in_source(source, str(path))


Gate = Callable[[str, str], "GateResult"]  # (source, filename) -> the gate's verdict
Untrusted = Literal["sandbox", "refuse"]


@dataclass(frozen=True)
class ControllerFile:
    """One extra file: how it is served (``trust``), what it serves, or why it is refused."""

    path: str
    trust: Trust
    controllers: tuple[type[Controller], ...] = ()
    reason: str | None = None
    parts: tuple[ControllerFile, ...] = ()  # a document's file pieces, each judged as a file
    # The files a document's pieces name, and their versions when it was judged: a change
    # to one (or its coming back) means a new verdict, as a change to the document does.
    pieces: tuple[str, ...] = ()
    seen: tuple[FileVersion, ...] = ()

    def pieces_changed(self) -> bool:
        return tuple(file_versions(Path(p) for p in self.pieces)) != self.seen

    def close(self) -> None:
        """Stop what serves it (sandboxed workers, its pieces' too) for good, if anything."""
        from tts_proxy.controllers.remote import RemoteController

        for cls in self.controllers:
            if issubclass(cls, RemoteController):
                cls.sandboxed.close()
        for part in self.parts:
            part.close()


def _refused(path: Path, why: str) -> ControllerFile:
    return ControllerFile(str(path), Trust.REFUSED, reason=why)


def _gate(source: str, filename: str) -> GateResult:
    from tts_proxy.controllers.gate import check_source

    return check_source(source, filename)


class _Pieces:
    """A document's file pieces as they load: each the bytes the document pins, judged as
    any controller file is (``ControllerRegistry._code``)."""

    def __init__(self, registry: ControllerRegistry, folder: Path) -> None:
        self.registry, self.folder = registry, folder
        self.loaded: list[ControllerFile] = []
        self.paths: tuple[str, ...] = ()

    def load(self, spec: FileSpec) -> type[Controller]:
        path = self.folder / spec.path
        self.paths += (str(path),)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ControllerLoadError(f"piece {spec.path}: unreadable: {exc.strerror}") from exc
        if hashlib.sha256(data).hexdigest() != spec.sha256:
            raise ControllerLoadError(f"piece {spec.path}: not the bytes the document pins")
        file = self.registry._code(path, data)
        self.loaded.append(file)
        if file.trust is Trust.REFUSED or len(file.controllers) != 1:
            why = file.reason or "it must define exactly one controller"
            raise ControllerLoadError(f"piece {spec.path}: {why}")
        return file.controllers[0]

    def seen(self) -> tuple[FileVersion, ...]:
        return tuple(file_versions(Path(p) for p in self.paths))

    def trust(self) -> Trust:
        """A document is served as its least trusted piece: with code in it, it is not data."""
        trusts = {f.trust for f in self.loaded}
        return next((t for t in (Trust.SANDBOXED, Trust.TRUSTED) if t in trusts), Trust.DATA)

    def close(self) -> None:
        for file in self.loaded:
            file.close()


class ControllerRegistry:
    """Controllers by name: the built-ins plus the files in ``extra_dirs``."""

    def __init__(
        self,
        extra_dirs: Sequence[Path] = (),
        *,
        trust: TrustList | None = None,
        untrusted: Untrusted = "sandbox",
        gate: Gate = _gate,
        sandbox: SandboxLimits = SERVE_LIMITS,
    ) -> None:
        self.extra_dirs = [Path(d) for d in extra_dirs]
        self.sandbox = sandbox  # each sandboxed worker's limits (its wall time is per call)
        self.trust = trust or TrustList()
        self.untrusted = untrusted
        self.gate = gate
        self.files: list[ControllerFile] = []
        self._builtins = builtin_controllers()
        self._by_name: dict[str, type[Controller]] = dict(self._builtins)
        self._by_version: dict[FileVersion, ControllerFile] = {}
        self.reload()

    @property
    def errors(self) -> dict[str, str]:
        """Refused files and why."""
        return {f.path: f.reason or "refused" for f in self.files if f.trust is Trust.REFUSED}

    def versions(self) -> list[FileVersion]:
        """The extra files (and the files their documents' pieces name) as they are now: a
        change here means a reload is due."""
        pieces = (Path(p) for f in self._by_version.values() for p in f.pieces)
        return [*self._files(), *file_versions(pieces)]

    def _files(self) -> list[FileVersion]:
        out = []
        for directory in self.extra_dirs:
            out += file_versions([*directory.glob("*.py"), *directory.glob("*.json")])
        return out

    def reload(self) -> None:
        """Read the extra directories again: new or changed files get a verdict, files that
        are gone stop being served (their sandboxed workers stop). Where two files serve one
        name, data and trusted files win over sandboxed ones, then the first path."""
        by_version = {}
        for v in self._files():
            old = self._by_version.get(v)
            fresh = old is not None and not old.pieces_changed()
            by_version[v] = old if fresh and old is not None else self.judge(Path(v[0]))
        for version, old in self._by_version.items():
            if by_version.get(version) is not old:
                old.close()
        served = dict(self._builtins)
        files = []
        for file in sorted(by_version.values(), key=lambda f: (f.trust is Trust.SANDBOXED, f.path)):
            taken = [c.name for c in file.controllers if c.name in served]
            if taken:  # refused this time only: the cached verdict stays for later reloads
                files.append(
                    _refused(Path(file.path), f"{', '.join(map(repr, taken))} is already served")
                )
                continue
            served |= {c.name: c for c in file.controllers}
            files.append(file)
        self._by_version, self._by_name = by_version, served
        self.files = sorted(files, key=lambda f: f.path)

    def judge(self, path: Path) -> ControllerFile:
        """The verdict on one file, from one read of its bytes (what is checked is what runs),
        as a reload gives it; not served (discovery measures what the proxy would serve)."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            return _refused(path, f"unreadable: {exc.strerror}")
        if path.suffix == ".json":
            return self._document(path, data)
        return self._code(path, data)

    def _code(self, path: Path, data: bytes) -> ControllerFile:
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError:
            return _refused(path, "not UTF-8 text")
        if self.trust.trusts(data):
            try:
                return ControllerFile(str(path), Trust.TRUSTED,
                                      tuple(controllers_in_source(source, str(path))))  # fmt: skip
            except ControllerLoadError as exc:
                return _refused(path, exc.message)
        if self.untrusted == "refuse":
            return _refused(path, "not in the trust list (untrusted files are refused)")
        return self._sandboxed(path, source)

    def _document(self, path: Path, data: bytes) -> ControllerFile:
        from tts_proxy.controllers.document import build, parse_document

        pieces = _Pieces(self, path.parent)
        try:
            doc = parse_document(data, str(path))
            built = build(doc.controller, doc.name, doc.calibrated, pieces.load)
        except ControllerLoadError as exc:
            pieces.close()
            return replace(_refused(path, exc.message), pieces=pieces.paths, seen=pieces.seen())
        return ControllerFile(str(path), pieces.trust(), (built,), parts=tuple(pieces.loaded),
                              pieces=pieces.paths, seen=pieces.seen())  # fmt: skip

    def _sandboxed(self, path: Path, source: str) -> ControllerFile:
        from tts_proxy.controllers.remote import RemoteControllerError, SandboxedFile, remote_class

        verdict = self.gate(source, path.name)
        if not verdict.ok:
            return _refused(path, f"refused by the gate: {verdict.reason}")
        name = str(verdict.report["controller"])  # as the gate's sandboxed load found it
        try:
            served = remote_class(SandboxedFile(source, path.name, limits=self.sandbox), name=name)
        except RemoteControllerError as exc:
            return _refused(path, str(exc))
        return ControllerFile(str(path), Trust.SANDBOXED, (served,))

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

    def close(self) -> None:
        """Stop every sandboxed worker."""
        for file in self._by_version.values():
            file.close()
