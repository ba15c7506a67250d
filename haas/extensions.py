"""Loading the modules named in [extensions].

An extension is a module that fills one of HaaS's registries when it is
imported: a migration folder (`haas.migrations.paths`), models, an auth
backend or a network allocator.  Loading one imports nothing else.
"""

import importlib
import sys

from haas.errors import ExtensionError
from haas.migrations.registry import conventional_folder, registered_folder

#: Every module imported as an extension, by any application of this
#: process: what it declares is served only where it is enabled.
loaded = set()


def load(name):
    """Import extension `name`; ExtensionError if it is missing or is no
    HaaS extension."""
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name and (name == e.name or name.startswith(e.name + '.')):
            raise ExtensionError(f'extension {name} in [extensions] is not '
                                 f'installed ({e})') from None
        raise
    registered_folder(name, conventional_folder(name))
    if not registers_something(name):
        raise ExtensionError(
            f'{name} in [extensions] is not a HaaS extension: importing it '
            f'registered no migration folder, model, auth backend or '
            f'network allocator')
    loaded.add(name)
    return module


def load_all(names):
    """Import every module named in [extensions], in order."""
    return [load(name) for name in names]


def registers_something(name):
    """Whether module `name` filled one of HaaS's registries."""
    from haas import auth, network_allocator
    from haas.migrations.registry import paths
    if name in paths or name in auth.backends \
            or name in network_allocator.allocators:
        return True
    # Models need haas.model, which an extension with models has imported.
    model = sys.modules.get('haas.model')
    return model is not None and name in model.table_owners().values()
