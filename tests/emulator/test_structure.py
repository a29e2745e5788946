"""The emulator's shape: imports that point down its layers, no import cycles, modules a
reader can hold in their head, no module reaching into another object's private members.

Imports are read with `ast`, `if TYPE_CHECKING:` ones included: a cycle that only type
checkers see still means neither file can be read without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "bot.emulator"
ROOT = Path(__file__).resolve().parents[2] / "bot" / "emulator"
MAX_LINES = 400
# A longer module says why in a `# size: <reason>` comment among its first lines.
SIZE_MARK = "# size:"
HEAD_LINES = 20
# The emulator's layers, top to bottom (as in bot/emulator/README.md): a module imports only
# modules below it. `__init__` is the package (`from bot.emulator import BotApiEmulator`).
LAYERS = [
    "__main__",
    "gen_methods",
    "control",
    "__init__",
    "server",
    "transport",
    "faults",
    "methods_bot",
    "methods_messages",
    "users",
    "chats",
    "actors",
    "markup",
    "files",
    "webhooks",
    "updates",
    "formatting",
    "spec",
    "models",
]
# The parts both emulators share (bot/emulator_kit) form the bottom layer, under each
# emulator's own: any module may import them; they import neither emulator.
KIT = "bot.emulator_kit"
KIT_ROOT = ROOT.parent / "emulator_kit"
KIT_LAYERS = ["launcher", "lifecycle", "control", "http", "faults", "changes", "__init__"]


def _package_modules(package: str, root: Path) -> dict[str, Path]:
    found = {}
    for path in sorted(root.glob("*.py")):
        name = package if path.stem == "__init__" else f"{package}.{path.stem}"
        found[name] = path
    return found


def _modules() -> dict[str, Path]:
    """The emulator's modules, then the kit's."""
    return {**_package_modules(PACKAGE, ROOT), **_package_modules(KIT, KIT_ROOT)}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of the package that ``name`` imports (anywhere in the file)."""
    package = name if path.stem == "__init__" else name.rsplit(".", 1)[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            targets.add(module)
            # `from bot.emulator import server` names a module, not an attribute.
            targets.update(f"{module}.{alias.name}" for alias in node.names)
    return {t for t in targets if t in known and t != name}


def test_imports_point_down_the_layers() -> None:
    """Each module imports only those below it, so no cycle can form (import-linter's
    acyclic contract in .ci/run checks the same for every package)."""
    modules = _modules()
    layers = [(PACKAGE, n) for n in LAYERS] + [(KIT, n) for n in KIT_LAYERS]
    rank = {p if n == "__init__" else f"{p}.{n}": i for i, (p, n) in enumerate(layers)}
    assert sorted(modules) == sorted(rank), "list each module in LAYERS (the kit's in KIT_LAYERS)"
    upward = [
        f"{name} imports {target}"
        for name, path in modules.items()
        for target in sorted(_imports(name, path, set(modules)))
        if rank[target] <= rank[name]
    ]
    assert upward == []


def test_long_modules_say_why() -> None:
    too_long = []
    for name, path in _modules().items():
        lines = path.read_text(encoding="utf-8").splitlines()
        head = [line.strip() for line in lines[:HEAD_LINES]]
        if len(lines) > MAX_LINES and not any(line.startswith(SIZE_MARK) for line in head):
            too_long.append(f"{name}: {len(lines)} lines")
    assert too_long == [], f"over {MAX_LINES} lines without a '{SIZE_MARK}' reason at the top"


def test_no_module_reaches_into_private_members() -> None:
    """``x._private`` only on ``self``/``cls`` (or ``super()``): other objects' internals
    are off limits, so each class can be read and changed on its own."""
    reaches = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Attribute):
                continue
            attr = node.attr
            if not attr.startswith("_") or (attr.startswith("__") and attr.endswith("__")):
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if (
                isinstance(owner, ast.Call)
                and isinstance(owner.func, ast.Name)
                and owner.func.id == "super"
            ):
                continue
            reaches.append(f"{name}:{node.lineno} .{attr}")
    assert reaches == []
