"""The suite's own layout: each test module stands on its own.  What several
modules share is in `support` (functions and constants) or in conftest.py
(fixtures, which pytest hands out); a test module that imported another,
or conftest, would run that module's code twice and tie the two together."""

import ast
import pathlib

TESTS = pathlib.Path(__file__).parent


def forbidden(name):
    """Whether `name` is a module no module of the suite may import."""
    top = name.split('.')[0]
    return top == 'conftest' or top.startswith('test_')


def imports_of(source):
    """Every module `source` imports, at its top or inside a function."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            yield node.module


def test_no_module_of_the_suite_imports_a_test_module_or_conftest():
    found = {}
    for path in sorted(TESTS.rglob('*.py')):
        names = sorted({n for n in imports_of(path.read_text(
            encoding='utf-8')) if forbidden(n)})
        if names:
            found[str(path.relative_to(TESTS))] = names

    assert found == {}


def test_imports_are_found_wherever_they_are():
    source = ('import os, test_a as a\n'
              'from conftest import cli\n'
              'def f():\n'
              '    from test_b.c import d\n'
              '    import support.servers\n')

    assert [n for n in imports_of(source) if forbidden(n)] == [
        'test_a', 'conftest', 'test_b.c']
