"""Private hidden tests: kept by an instructor outside the public repository.

``PRIVATE/<lab>/q1_private.py`` (or ``PRIVATE/q1_private.py`` for a single lab) holds imports and
``test_*`` functions in otter's exception-based format (a ``@test_case(...)`` decorator is
optional). :func:`merge_private` appends them to the question's test file as hidden test cases;
they share the question's points.
"""

from __future__ import annotations

import ast
from pathlib import Path


def private_files(private_dir: Path, lab: str, several_labs: bool) -> dict[str, Path]:
    """question -> private test file, from ``private_dir/<lab>/`` (or ``private_dir`` itself)."""
    private_dir = Path(private_dir)
    if not private_dir.is_dir():
        raise FileNotFoundError(f"--private-tests {private_dir} is not a folder")
    folder = private_dir / lab
    if not folder.is_dir():
        if several_labs:
            return {}
        folder = private_dir
    return {p.name.removesuffix("_private.py"): p for p in sorted(folder.glob("*_private.py"))}


def _decorator(function: ast.FunctionDef, path: Path) -> ast.expr:
    """``@test_case(..., hidden=True)``, keeping points and messages of an existing decorator."""
    keywords = []
    for dec in function.decorator_list:
        if isinstance(dec, ast.Call) and getattr(dec.func, "id", None) == "test_case":
            keywords = [k for k in dec.keywords if k.arg in ("points", "success_message", "failure_message")]
        elif not (isinstance(dec, ast.Name) and dec.id == "test_case"):
            raise ValueError(f"{path}: {function.name} has a decorator other than @test_case")
    keywords.append(ast.keyword(arg="hidden", value=ast.Constant(True)))
    return ast.Call(func=ast.Name("test_case", ast.Load()), args=[], keywords=keywords)


def merge_private(test_source: str, private_path: Path) -> tuple[str, int]:
    """The question's test file with the private tests appended; and how many were added."""
    tree = ast.parse(Path(private_path).read_text(), filename=str(private_path))
    existing = {n.name for n in ast.parse(test_source).body if isinstance(n, ast.FunctionDef)}
    kept: list[ast.stmt] = []
    count = 0
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            kept.append(node)
        elif isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            node.decorator_list = [_decorator(node, private_path)]
            if node.name in existing:
                node.name = f"private_{node.name}"
            if node.name in existing:
                raise ValueError(f"{private_path}: test {node.name} exists twice; rename it")
            existing.add(node.name)
            kept.append(node)
            count += 1
        elif isinstance(node, ast.Assign) and all(
            isinstance(t, ast.Name) and t.id in ("OK_FORMAT", "name", "points") for t in node.targets
        ):
            continue  # a complete otter test file: its own name/points don't apply
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # docstring
        else:
            raise ValueError(
                f"{private_path}, line {node.lineno}: a private test file may hold only imports and "
                "test_* functions; move other code into the test functions"
            )
    if not count:
        raise ValueError(f"{private_path} defines no test_* function")
    module = ast.Module(body=kept, type_ignores=[])
    merged = test_source.rstrip() + "\n\n\n# private hidden tests, merged by genlab assign\n"
    return merged + ast.unparse(ast.fix_missing_locations(module)) + "\n", count
