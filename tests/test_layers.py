"""Imports point down only (issue 11, point 4; docs/architecture.md): no cycles between walt3d_studio modules, and
`store/` imports no stage and no GUI. Found by parsing the source with `ast`, so function-level imports (the
lazy ones) count as much as module-level ones: a cycle hidden in a function is still a cycle of the design."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "walt3d_studio"
# Packages above the store: the stages, the command line that drives them, and the GUI.
ABOVE_STORE = {"mining", "reconstruct", "composite", "dataset", "training", "keypoints", "gui", "background_job",
               "background_shards", "scaleout", "cli", "project_cli", "demo", "method_demo", "report"}
STAGES = {"mining", "reconstruct", "composite", "dataset", "training", "keypoints", "background_job",
          "background_shards"}


def _module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path = PACKAGE) -> dict[str, dict[str, list[int]]]:
    """module -> {imported walt3d_studio module: [line numbers]}, over every import statement in the file
    (module level and inside functions). `from pkg import name` counts as an import of `pkg.name` when that is
    a module, else of `pkg`. A module's import of its own parent package is left out: Python initialises a
    package before any of its submodules whatever the code says, so that edge orders nothing."""
    root = package.name
    files = {_module_name(p, package): p for p in package.rglob("*.py")}

    def known(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, list[int]]] = {}
    for mod, path in files.items():
        edges: dict[str, list[int]] = {}
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = base[:len(base) - (node.level - 1)]
                    src = ".".join(base + ([node.module] if node.module else []))
                else:
                    src = node.module or ""
                targets = [f"{src}.{a.name}" if f"{src}.{a.name}" in files else src for a in node.names]
            for t in targets:
                if t != root and not t.startswith(root + "."):
                    continue
                t = known(t)
                if t is None or t == mod or mod.startswith(t + "."):
                    continue
                if node.lineno not in edges.setdefault(t, []):
                    edges[t].append(node.lineno)
        graph[mod] = edges
    return graph


def cycles(graph: dict[str, dict[str, list[int]]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in graph:
                    continue
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def _describe(graph, comp: list[str]) -> str:
    members = set(comp)
    return "\n".join(f"  {m} -> {t} (line {', '.join(map(str, lines))})"
                     for m in comp for t, lines in sorted(graph[m].items()) if t in members)


def test_no_import_cycles():
    graph = import_graph()
    found = cycles(graph)
    assert found == [], "import cycles between walt3d_studio modules (move the shared definitions down into a " \
        "lower module):\n" + "\n\n".join(_describe(graph, c) for c in found)


def test_the_cycles_named_in_issue_11_are_gone():
    graph = import_graph()
    for a, b in [("mining.registry", "mining.maskrcnn"), ("mining.registry", "mining.foreground"),
                 ("mining.registry", "mining.imported"), ("mining.mine", "mining.merge"),
                 ("keypoints.data", "dataset.keypoints_coco"), ("dataset.keypoints_coco", "dataset.carfusion"),
                 ("reconstruct.body_estimators", "reconstruct.body_builtin")]:
        a, b = f"walt3d_studio.{a}", f"walt3d_studio.{b}"
        assert a in graph and b in graph, (a, b)  # the check looks at modules that exist
        assert not (b in graph[a] and a in graph[b]), f"{a} and {b} import each other"


def test_store_imports_no_stage_and_no_gui():
    graph = import_graph()
    offenders = [f"{m} -> {t} (line {', '.join(map(str, lines))})"
                 for m, edges in sorted(graph.items()) if m.split(".")[1:2] == ["store"]
                 for t, lines in sorted(edges.items()) if t.split(".")[1] in ABOVE_STORE]
    assert offenders == [], "walt3d_studio/store/ imports a layer above it:\n" + "\n".join(offenders)


def test_stages_import_no_gui():
    graph = import_graph()
    offenders = [f"{m} -> {t}" for m, edges in sorted(graph.items()) if m.split(".")[1:2] and
                 m.split(".")[1] in STAGES for t in edges if t.split(".")[1] == "gui"]
    assert offenders == [], "a headless stage imports the GUI:\n" + "\n".join(offenders)


def test_the_checks_find_cycles_and_upward_imports(tmp_path):
    pkg = tmp_path / "walt3d_studio"
    for rel, text in {"__init__.py": "", "store/__init__.py": "",
                      "store/things.py": "def f():\n    from ..mining.merge import x\n",
                      "mining/__init__.py": "",
                      "mining/mine.py": "from . import merge\n",
                      "mining/merge.py": "def g():\n    from walt3d_studio.mining.mine import y\n",
                      "mining/child.py": "from . import z\n"}.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    graph = import_graph(pkg)
    assert cycles(graph) == [["walt3d_studio.mining.merge", "walt3d_studio.mining.mine"]]
    assert graph["walt3d_studio.store.things"] == {"walt3d_studio.mining.merge": [2]}
    assert graph["walt3d_studio.mining.child"] == {}  # its own package: initialised first anyway


def test_moved_definitions_stay_importable_from_their_old_places():  # plug-ins and older code keep working
    import walt3d_studio.keypoint_schema as schema
    import walt3d_studio.keypoints as kp
    import walt3d_studio.keypoints.schema as old_schema
    from walt3d_studio.dataset import crops, keypoint_records, keypoints_coco
    from walt3d_studio.keypoints import data
    from walt3d_studio.reconstruct import body_estimators, body_types

    assert old_schema is schema and kp.schema is schema and kp.load_schema is schema.load_schema
    assert data.CropSource is crops.CropSource and data.write_crop is crops.write_crop
    assert keypoints_coco.KeypointDataset is keypoint_records.KeypointDataset
    assert body_estimators.PersonDetection is body_types.PersonDetection
