"""Imports point down: the import graph of `haas/` has no circle.

Every `import` and `from ... import` counts, those inside functions too:
an import that runs late (to keep start-up fast) still ties its module to
the one it names.  Bottom to top: configuration, errors and registries;
models, REST declarations and drivers; the migrations library and the
daemon; commands, `wsgi` and `haas.app` (the composition root).
"""

import ast
import graphlib
import os
import pkgutil

import pytest

import haas


def modules_of(root, package):
    """{module name: its file} for every module of the packages under
    `root`, the folder of `package`.  Folders without an __init__.py are
    not packages: they hold migration scripts (frozen history that imports
    Alembic, SQLAlchemy and haas.migrations.ops only, run by Alembic from
    their folder), which are left out."""
    found = {}
    for folder, subfolders, files in os.walk(root):
        if '__init__.py' not in files:
            subfolders.clear()
            continue
        parts = [package, *os.path.relpath(folder, root).split(os.sep)]
        parts = [p for p in parts if p != '.']
        for name in files:
            if name.endswith('.py'):
                module = parts if name == '__init__.py' \
                    else [*parts, name[:-3]]
                found['.'.join(module)] = os.path.join(folder, name)
    return found


def imported(module, path, modules):
    """The modules of `modules` that `module` (its file at `path`)
    imports anywhere, each with the line of its first import there.

    `from package import name` names the submodule `package.name` when
    there is one, else `package` itself.  The package that Python runs
    before a submodule it imports is not counted: a package's own
    __init__ imports at its top only what is below it.
    """
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    package = module if path.endswith('__init__.py') \
        else module.rpartition('.')[0]
    found = {}

    def add(name, line):
        # The longest prefix that is a module of ours: `import a.b.c` runs
        # a.b.c, and a name outside `modules` is another project's.
        while name and name not in modules:
            name = name.rpartition('.')[0]
        if name and name != module:
            found.setdefault(name, line)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')[:len(package.split('.'))
                                          - node.level + 1]
                source = '.'.join([*base, *filter(None, [node.module])])
            else:
                source = node.module
            for alias in node.names:
                submodule = f'{source}.{alias.name}'
                add(submodule if submodule in modules else source,
                    node.lineno)
    return found


def import_graph(root, package):
    """{module: {module it imports: line}} for the modules under `root`."""
    modules = modules_of(root, package)
    return {module: imported(module, path, modules)
            for module, path in sorted(modules.items())}


def circle(graph):
    """One circle of `graph` as [m1, m2, ..., m1], or None."""
    try:
        graphlib.TopologicalSorter(
            {module: set(edges) for module, edges in graph.items()}).prepare()
    except graphlib.CycleError as e:
        # graphlib gives the circle with its first module repeated last,
        # each module's predecessor before it; read it in import order.
        return list(reversed(e.args[1]))
    return None


def described(graph, found):
    """A circle in words: each import, with its line."""
    return ' -> '.join(
        [found[0], *(f'{module} (line {graph[importer][module]})'
                     for importer, module in zip(found, found[1:]))])


HAAS = os.path.dirname(haas.__file__)


def test_the_import_graph_of_haas_has_no_circle():
    graph = import_graph(HAAS, 'haas')
    found = circle(graph)
    assert found is None, f'an import circle: {described(graph, found)}'


def test_the_graph_holds_every_module_python_finds_and_no_script():
    # pkgutil lists the modules of packages, as the graph should: not the
    # migration scripts, whose folders are not packages.
    found = {'haas', *(module.name for module in
                       pkgutil.walk_packages(haas.__path__, 'haas.'))}

    assert set(modules_of(HAAS, 'haas')) == found
    assert 'haas.migrations.registry' in found


# --- the graph's reading of a module, on a tree made for it -----------------

def write(root, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize('files', [
    # A late import inside a function closes a circle too.
    {'__init__.py': '', 'a.py': 'import pkg.b\n',
     'b.py': 'def f():\n    from pkg import a\n'},
    # A relative import, and `from package import submodule`.
    {'__init__.py': '', 'sub/__init__.py': '', 'a.py': 'from .sub import b\n',
     'sub/b.py': 'from .. import a\n'},
    # `from module import name` names the module; `import a.b` names a.b.
    {'__init__.py': '', 'a.py': 'from pkg.b import NAME\n',
     'b.py': 'class C:\n    def m(self):\n        import pkg.sub.c\n',
     'sub/__init__.py': '', 'sub/c.py': 'import pkg.a as a\n'},
], ids=['late-import', 'relative-import', 'from-module-import-name'])
def test_a_circle_is_found_and_named(tmp_path, files):
    write(tmp_path / 'pkg', files)
    graph = import_graph(tmp_path / 'pkg', 'pkg')

    found = circle(graph)

    assert found is not None and found[0] == found[-1]
    assert all(b in graph[a] for a, b in zip(found, found[1:]))
