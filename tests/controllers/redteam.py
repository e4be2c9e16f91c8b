"""A corpus of controller files that try to escape: each runs its attack when it is loaded and
again on every ``decide``, and answers with whatever the attack got (so a leak would reach the
client). An attack that works leaves a trace the tests look for: a marker file written, a
connection to a listener, a secret in an answer. ``{marker}``, ``{port}`` and ``{keys}`` are
filled in by the tests; the lint is off for these (the sandbox is what is tested)."""

from __future__ import annotations

from pathlib import Path

TEMPLATE = """
from tts_proxy.actions import Answer, Branch
from tts_proxy.controllers.base import Controller

MARKER = {marker!r}
PORT = {port}
KEYS = {keys!r}


def attack():
{attack}


try:
    attack()
except BaseException:
    pass

{shape}
"""
PLAIN = """
class Attacker(Controller):
    name = "{name}"

    def decide(self, view):
        try:
            found = attack()
        except BaseException as exc:
            found = repr(exc)
        if not view.branches:
            return [Branch(1, to_end=True)]
        return [Answer(str(found)[:2000])]
"""
ATTACKS: dict[str, str] = {
    # Module attributes that reach os and sys.
    "random_os": "from random import _os\nreturn _os.system(f'touch {MARKER}')",
    "dataclasses_sys": (
        "import dataclasses\nreturn dataclasses.sys.modules['os'].system(f'touch {MARKER}')"
    ),
    "subprocess": "import subprocess\nreturn subprocess.run(['touch', MARKER])",
    # Generator and frame attributes reach the builtins.
    "frame_builtins": (
        "def g():\n    yield 1\n"
        "gen = g()\n"
        "imp = gen.gi_frame.f_builtins['__import__']\n"
        "return imp('os').system(f'touch {MARKER}')"
    ),
    # str.format reaches dunders; subclasses reach os through a wrapper's globals.
    "format_subclasses": (
        "name = '{0.__class__.__mro__[1].__name__}'.format(0)\n"
        "base = [c for c in ().__class__.__mro__ if c.__name__ == name][0]\n"
        "wrap = [c for c in base.__subclasses__() if c.__name__ == '_wrap_close'][0]\n"
        "return wrap.__init__.__globals__['system'](f'touch {MARKER}')"
    ),
    # Writing outside its directory, and into the controllers directory.
    "write_marker": "open(MARKER, 'w').write('escaped')\nreturn 'wrote'",
    "write_project": (
        "import tts_proxy, pathlib\n"
        "pathlib.Path(tts_proxy.__file__).with_name('pwned.py').write_text('x = 1')\n"
        "return 'wrote'"
    ),
    # Secrets: the environment, other processes' environments, an API keys file.
    "environ": (
        "import os, glob\n"
        "seen = [open(p, 'rb').read().decode(errors='replace') for p in"
        " glob.glob('/proc/*/environ')]\n"
        "lines = [*os.environ.items(), *(e for s in seen for e in s.split(chr(0)))]\n"
        "return repr([e for e in lines if 'KEY' in str(e) or 'TTS' in str(e)])"
    ),
    "keys_file": "return open(KEYS).read()",
    # Network: TCP to a listener on the host's loopback, and a UNIX socket.
    "socket_tcp": (
        "import socket\n"
        "s = socket.create_connection(('127.0.0.1', PORT), timeout=2)\n"
        "s.sendall(b'escaped')\nreturn 'connected'"
    ),
    "ctypes_socket": (
        "import ctypes\n"
        "libc = ctypes.CDLL(None)\n"
        "fd = libc.socket(2, 1, 0)\n"
        "return f'socket fd {fd}'"
    ),
    # Processes: a fork bomb, and the kernel's doors.
    "fork_bomb": (
        "import os\n"
        "for _ in range(1000):\n"
        "    if os.fork() == 0:\n"
        "        open(MARKER, 'w').write('forked')\n"
        "        os._exit(0)\n"
        "return 'forked'"
    ),
    "ptrace_parent": ("import ctypes, os\nreturn ctypes.CDLL(None).ptrace(16, os.getppid(), 0, 0)"),
    # Resources.
    "huge_allocation": "blob = bytearray(64 << 30)\nreturn len(blob)",
}
# Hooks that run at class creation: a metaclass, __init_subclass__, a decorator.
SHAPES: dict[str, str] = {
    "metaclass": """
class Meta(type):
    def __new__(mcs, *args):
        try:
            attack()
        except BaseException:
            pass
        return super().__new__(mcs, *args)


class Attacker(Controller, metaclass=type("M", (Meta, type(Controller)), {{}})):
    name = "{name}"

    def decide(self, view):
        if not view.branches:
            return [Branch(1, to_end=True)]
        return [Answer("7")]
""",
    "init_subclass": """
class Hooked(Controller):
    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        try:
            attack()
        except BaseException:
            pass

    def decide(self, view):
        return [Answer("7")]


class Attacker(Hooked):
    name = "{name}"
""",
    "decorator": """
def deco(cls):
    attack()
    return cls


@deco
class Attacker(Controller):
    name = "{name}"

    def decide(self, view):
        if not view.branches:
            return [Branch(1, to_end=True)]
        return [Answer("7")]
""",
}


def corpus(directory: Path, *, marker: Path, port: int, keys: Path) -> dict[str, Path]:
    """Write every attack (and every class-creation hook with the marker attack) as a
    controller file in ``directory``; their paths by attack name."""
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, tuple[str, str]] = {name: (body, PLAIN) for name, body in ATTACKS.items()}
    files |= {name: (ATTACKS["random_os"], shape) for name, shape in SHAPES.items()}
    paths = {}
    for name, (body, shape) in files.items():
        indented = "\n".join("    " + line for line in body.splitlines())
        source = TEMPLATE.format(marker=str(marker), port=port, keys=str(keys), attack=indented,
                                 shape=shape.format(name=f"attack_{name}"))  # fmt: skip
        path = directory / f"attack_{name}.py"
        path.write_text(source)
        paths[name] = path
    return paths
