"""Layering, read from the source (an AST scan of every module of the project's packages).

1. No package imports another package's private names (``_atomic``, ``_record``, …): a
   package is an app (``calls``, ``agents``, …) or, inside ``callseal``, one of its Django
   apps (``callseal.ledger``, ``callseal.tenancy``, …). Both ``from m import _name`` and
   ``import m`` followed by ``m._name`` count. What packages share goes through public
   names (for writes: callseal.ledger.envelope). Inside the apps themselves, a private
   name stays in its module: ``calls.supervision`` calling ``calls.services._atomic`` is
   what the shared write envelope replaced.
2. Apps write only through the ledger's envelope (callseal.ledger.envelope): no app module
   uses ``ledger_append`` or the store's writer lock itself.
3. The foundation (``callseal.ledger``, ``callseal.tenancy``, ``callseal.crypto``,
   ``callseal.regions``) imports no app above it, not even inside a function.
   ``FOUNDATION_KNOWN`` lists the modules that still do; it may only shrink (an entry that
   no longer violates must be removed, so a fixed module cannot regress unnoticed).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("agents", "analytics", "calls", "callseal", "compliance", "inference", "benchmarks")
FOUNDATION = ("callseal.ledger", "callseal.tenancy", "callseal.crypto", "callseal.regions")
APPS = ("calls", "agents", "analytics", "compliance")
# Foundation modules that still import an app (module -> the apps it imports). The console
# and the demo seeding living inside callseal.tenancy are to move out (issue 23, layout).
FOUNDATION_KNOWN: dict[str, frozenset[str]] = {
    "callseal.tenancy.management.commands.seed_demo": frozenset({"agents", "calls"}),
}
# Private names still used across packages ("module uses target.name"); may only shrink.
# The benchmarks drive the simulator's signing helper until the simulator is a package
# with a public API (issue 23, layout).
PRIVATE_KNOWN = frozenset({"benchmarks.bench_stream_flood uses calls.simulator._post_signed"})


@dataclass(frozen=True, slots=True)
class Use:
    module: str  # the importing module
    line: int
    target: str  # the module whose name is used
    name: str  # the name used (private ones matter here)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                found[module_name(path)] = path
    return found


def package_of(module: str) -> str:
    """The unit of privacy: an app, or one of callseal's apps (callseal.ledger, …)."""
    parts = module.split(".")
    if parts[0] == "callseal" and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def is_module(dotted: str) -> bool:
    base = ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def dotted(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ["a", "b", "c"]; None for anything that is not a plain name chain."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        head = dotted(node.value)
        return None if head is None else [*head, node.attr]
    return None


def uses(module: str, path: Path) -> tuple[set[str], list[Use]]:
    """Every module ``module`` imports, and every name it takes from a project module
    (imported names, and attributes of imported modules)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    imported: set[str] = set()
    found: list[Use] = []
    aliases: dict[str, str] = {}  # local name -> project module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                imported.add(alias.name)
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    aliases[head] = head
        elif isinstance(node, ast.ImportFrom):
            source = absolute(module, path, node)
            imported.add(source)
            for alias in node.names:
                full = f"{source}.{alias.name}"
                if is_module(full):
                    imported.add(full)
                    aliases[alias.asname or alias.name] = full
                else:
                    found.append(Use(module, node.lineno, source, alias.name))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        chain = dotted(node)
        if chain is None or chain[0] not in aliases:
            continue
        target = aliases[chain[0]]
        for part in chain[1:-1]:  # walk down submodules (``import a.b`` then ``a.b._x``)
            if not is_module(f"{target}.{part}"):
                break
            target = f"{target}.{part}"
        else:
            found.append(Use(module, node.lineno, target, chain[-1]))
    return imported, found


def private_uses_across_packages() -> list[str]:
    bad = []
    for module, path in project_modules().items():
        for use in uses(module, path)[1]:
            if (
                private(use.name)
                and is_module(use.target)
                and package_of(use.target) != package_of(module)
            ):
                bad.append(f"{module} uses {use.target}.{use.name}")
    return sorted(set(bad))


def private_uses_in_app_modules() -> list[str]:
    bad = []
    for module, path in project_modules().items():
        if package_of(module) not in (*APPS, "inference"):
            continue
        for use in uses(module, path)[1]:
            if private(use.name) and is_module(use.target) and use.target != module:
                bad.append(f"{module}:{use.line} uses {use.target}.{use.name}")
    return sorted(set(bad))


# What an app must not take from the ledger: the envelope opens the transaction, takes the
# writer lock and runs the inline projections around these.
BELOW_THE_ENVELOPE = {
    ("callseal.ledger.services", "ledger_append"),
    ("callseal.ledger.store", "writing"),
    ("callseal.ledger.store", "append"),
}


def apps_writing_beside_the_envelope() -> list[str]:
    bad = []
    for module, path in project_modules().items():
        if package_of(module) in APPS:
            for use in uses(module, path)[1]:
                if (use.target, use.name) in BELOW_THE_ENVELOPE:
                    bad.append(f"{module}:{use.line} uses {use.target}.{use.name}")
    return sorted(set(bad))


def foundation_imports_of_apps() -> dict[str, frozenset[str]]:
    bad: dict[str, frozenset[str]] = {}
    for module, path in project_modules().items():
        if not any(module == f or module.startswith(f + ".") for f in FOUNDATION):
            continue
        apps = frozenset(
            name.split(".")[0] for name in uses(module, path)[0] if name.split(".")[0] in APPS
        )
        if apps:
            bad[module] = apps
    return bad


def test_the_scan_sees_every_package_and_both_forms_of_private_use(tmp_path: Path) -> None:
    modules = project_modules()
    assert {package_of(m) for m in modules} >= {*APPS, *FOUNDATION, "inference"}
    source = tmp_path / "probe.py"
    source.write_text(
        "from calls import services\n"
        "import calls.services as cs\n"
        "from calls.services import _hidden, public\n"
        "def f():\n"
        "    services._a()\n"
        "    cs._b\n"
        "    import callseal.ledger.store\n"
        "    callseal.ledger.store._c\n"
    )
    imported, found = uses("agents.probe", source)
    assert {"calls.services", "callseal.ledger.store"} <= imported
    assert {(u.target, u.name) for u in found if private(u.name)} == {
        ("calls.services", "_hidden"),
        ("calls.services", "_a"),
        ("calls.services", "_b"),
        ("callseal.ledger.store", "_c"),
    }


def test_no_package_imports_another_packages_private_names_beyond_a_shrinking_list() -> None:
    found = set(private_uses_across_packages())
    assert found - PRIVATE_KNOWN == set()
    assert PRIVATE_KNOWN - found == set(), "shrink PRIVATE_KNOWN"


def test_app_modules_use_no_other_modules_private_names() -> None:
    assert private_uses_in_app_modules() == []


def test_apps_write_only_through_the_envelope() -> None:
    assert apps_writing_beside_the_envelope() == []


def test_the_foundation_imports_no_app_beyond_the_known_list_which_only_shrinks() -> None:
    found = foundation_imports_of_apps()
    new = {m: apps for m, apps in found.items() if not apps <= FOUNDATION_KNOWN.get(m, set())}
    assert new == {}, "the foundation must not import calls, agents, analytics or compliance"
    fixed = {m: apps - found.get(m, frozenset()) for m, apps in FOUNDATION_KNOWN.items()}
    assert {m: apps for m, apps in fixed.items() if apps} == {}, "shrink FOUNDATION_KNOWN"
