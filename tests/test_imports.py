"""The package's import graph: no cycles between modules nor between subpackages, and the layers
point one way (`fst.models` knows nothing of `fst.losses`)."""

from __future__ import annotations

import ast
from pathlib import Path

import fst

PACKAGE = Path(fst.__file__).resolve().parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """fst module -> the fst modules it imports, anywhere in its body."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module)
                imported |= {f"{node.module}.{alias.name}" for alias in node.names}
        graph[name] = {m for m in imported if m in modules and m != name and m != "fst"}
    return graph


def area(module: str) -> str:
    """`fst.models.vgg` -> `fst.models`; a top-level module (`fst.checkpoint`) is its own area."""
    return ".".join(module.split(".")[:2])


def area_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The module graph folded onto subpackages: `fst.models` -> the areas its modules import."""
    folded: dict[str, set[str]] = {}
    for module, imported in graph.items():
        folded.setdefault(area(module), set())
        folded[area(module)] |= {area(m) for m in imported} - {area(module)}
    return folded


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for child in sorted(graph[node]):
            cycle = visit(child, [*path, node])
            if cycle:
                return cycle
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start, [])
        if cycle:
            return cycle
    return None


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_area_graph_folds_modules_onto_subpackages() -> None:
    # Two module-level edges that form no module cycle still make a subpackage cycle.
    graph = {"fst.models.adain": {"fst.losses.vgg"}, "fst.losses.adain": {"fst.models.adain"}, "fst.losses.vgg": set()}
    assert find_cycle(graph) is None
    assert find_cycle(area_graph(graph)) == ["fst.losses", "fst.models", "fst.losses"]


def test_fst_has_no_import_cycle() -> None:
    graph = import_graph()
    assert graph.get("fst.losses.perceptual")
    assert find_cycle(graph) is None, find_cycle(graph)


def test_fst_subpackages_have_no_import_cycle() -> None:
    areas = area_graph(import_graph())
    assert "fst.models" in areas["fst.losses"]  # the graph is really read
    assert find_cycle(areas) is None, find_cycle(areas)


def test_models_do_not_import_losses() -> None:
    # The VGG encoder is a model (AdaIN's encoder too); losses use models, never the reverse.
    offenders = {m: sorted(i for i in imported if area(i) == "fst.losses") for m, imported in import_graph().items()}
    assert not {m: i for m, i in offenders.items() if area(m) == "fst.models" and i}
