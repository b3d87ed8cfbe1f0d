"""Notebook conventions: stripped outputs, a literal parameters cell papermill understands, no `def`."""

from __future__ import annotations

import ast
import io
import tokenize

import nbformat
import papermill
import pytest

from helpers.core.paths import NOTEBOOKS, NOTEBOOKS_DIR

NOTEBOOK_PATHS = [NOTEBOOKS_DIR / f"{name}.ipynb" for name in NOTEBOOKS.values()]
ALLOWED_TYPES = {"int", "float", "str", "bool", "list", "dict"}


def _code_cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_the_four_notebooks_exist():
    assert sorted(p.name for p in NOTEBOOKS_DIR.glob("*.ipynb")) == sorted(p.name for p in NOTEBOOK_PATHS)


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_committed_without_outputs_or_execution_counts(path):
    for cell in _code_cells(path):
        assert not cell.outputs, f"{path.name}: a cell has outputs; strip them before committing"
        assert cell.execution_count is None, f"{path.name}: a cell has an execution count"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_parameters_cell_holds_typed_commented_literals(path):
    first = _code_cells(path)[0]
    assert "parameters" in first.metadata.get("tags", []), f"{path.name}: first code cell is not tagged 'parameters'"
    tree = ast.parse(first.source)
    names = []
    for statement in tree.body:
        assert isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name), (
            f"{path.name}: parameters cell line {statement.lineno} is not `name: type = literal`"
        )
        assert ast.unparse(statement.annotation) in ALLOWED_TYPES, (
            f"{path.name}: {statement.target.id} has an unusual type"
        )
        ast.literal_eval(statement.value)  # raises on anything but a literal
        names.append(statement.target.id)
    comment_lines = {
        token.start[0]
        for token in tokenize.generate_tokens(io.StringIO(first.source).readline)
        if token.type == tokenize.COMMENT
    }
    for statement in tree.body:
        assert statement.lineno in comment_lines, f"{path.name}: parameter {statement.target.id} has no comment"
    inferred = papermill.inspect_notebook(str(path))
    assert list(inferred) == names, f"{path.name}: papermill reads {list(inferred)}, the cell declares {names}"
    assert all(p["help"] for p in inferred.values()), f"{path.name}: papermill finds no help text for a parameter"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_no_function_definitions_and_helpers_imported_first(path):
    cells = _code_cells(path)
    for cell in cells:
        tree = ast.parse(cell.source)
        assert not any(
            isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)) for n in ast.walk(tree)
        ), f"{path.name}: define functions in helpers/, not in notebooks"
    first_import = next(n for n in ast.parse(cells[1].source).body if isinstance(n, (ast.Import, ast.ImportFrom)))
    assert isinstance(first_import, ast.Import) and first_import.names[0].name == "helpers", (
        f"{path.name}: the cell after the parameters must `import helpers` first (offline switches)"
    )


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_writes_a_metrics_file(path):
    assert "write_metrics(" in _code_cells(path)[-1].source, f"{path.name}: the last cell should write its key numbers"
