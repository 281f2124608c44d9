"""All SQL lives under walt3d_studio/store/ (issue 11, point 4): no module outside it runs a statement of its
own, so the schema can change in one place. Found by parsing the source: any `.execute(...)`,
`.executemany(...)` or `.executescript(...)` call outside store/ (whatever builds its statement)."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "walt3d_studio"
SQL_CALLS = {"execute", "executemany", "executescript"}


def _sql_calls(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS:
            found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    return found


def test_no_sql_outside_the_store():
    outside = [p for p in PACKAGE.rglob("*.py") if "store" not in p.relative_to(PACKAGE).parts[:1]]
    offenders = [hit for p in outside for hit in _sql_calls(p)]
    assert offenders == [], "SQL outside walt3d_studio/store/: move it into a named store function:\n" + \
        "\n".join(offenders)


def test_the_check_finds_sql():  # the detector itself works (a statement in a stage module would be caught)
    import tempfile

    with tempfile.TemporaryDirectory(dir=PACKAGE.parent) as d:
        f = Path(d) / "x.py"
        f.write_text('def f(p, q):\n    p.conn.execute(f"SELECT id FROM frames WHERE camera_id = {1}")\n'
                     '    with p.transaction() as c:\n        c.executemany(q, [])\n')
        assert len(_sql_calls(f)) == 2
