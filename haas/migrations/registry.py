"""The migration branches' registry: core's branch names and `paths`.

Plain data at the bottom of the migrations library, which its modules (and
the extension loader) import instead of the `haas.migrations` package, the
library's entry point; `haas.migrations.paths` is this same dict.
"""

import importlib.util
import os

from haas.errors import ExtensionError

CORE = 'haas'
#: The branch of the migration ledger, haas.migrations.ledger's table.
LEDGER = 'haas.migrations.ledger'
#: Branches of HaaS itself, enabled whatever [extensions] says.
BUILT_IN = (CORE, LEDGER)
#: Alembic's script folder (its environment): env.py, alembic.ini, the
#: script template, and the version scripts of HaaS's own branches; the
#: library that drives it is the package around it.
MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              'environment')

#: Branch label -> folder of its version scripts.  Core registers `haas`;
#: an extension with tables registers ``paths[__name__] = <its folder>``
#: when it is imported.  Only the branches of enabled extensions take part.
paths = {CORE: os.path.join(MIGRATIONS_DIR, 'versions'),
         LEDGER: os.path.join(MIGRATIONS_DIR, 'ledger_versions')}


def conventional_folder(module):
    """Where `module` keeps its version scripts by convention, or None.

    A module ``pkg/name.py`` keeps them in ``pkg/migrations/name/``; a
    package ``pkg/__init__.py`` in ``pkg/migrations/``.  Found without
    importing `module` (its parent packages are imported).
    """
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise ExtensionError(f'extension {module} in [extensions] is not '
                             f'installed (No module named {module!r})')
    if spec.origin is None or not os.path.isfile(spec.origin):
        return None
    here = os.path.dirname(spec.origin)
    if spec.submodule_search_locations:
        folder = os.path.join(here, 'migrations')
    else:
        folder = os.path.join(here, 'migrations', module.rsplit('.', 1)[-1])
    if os.path.isdir(folder) and any(
            name.endswith('.py') for name in os.listdir(folder)):
        return folder
    return None


def registered_folder(extension, conventional=None):
    """The folder imported `extension` registered for its own branch, or
    None; ExtensionError if it is not `conventional` (its conventional
    folder, when that holds scripts): where an extension's scripts are
    must not depend on whether it was imported (haas.migrations.scripts
    reads the conventional folder without importing it)."""
    registered = paths.get(extension)
    if conventional is None or registered is None:
        return registered
    same = [os.path.normcase(os.path.realpath(f))
            for f in (registered, conventional)]
    if same[0] != same[1]:
        raise ExtensionError(
            f'extension {extension} registers its migration scripts in '
            f'{registered}, but {conventional} holds scripts too: keep '
            f'them in one folder')
    return registered
