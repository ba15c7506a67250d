"""Which tables of the models belong to which branch.

A model's table belongs to the branch of the module that defines its class;
a plain ``db.Table`` names its module in ``info['module']``.
"""

from haas.migrations.registry import CORE, paths
from haas.migrations.scripts import owner


def branch_of_module(module):
    """The branch that owns the tables defined in `module`, or None."""
    branch = owner(module, [b for b in paths if b != CORE])
    if branch is not None:
        return branch
    if module.startswith(CORE + '.') and not module.startswith('haas.ext.'):
        return CORE
    return None


#: ((registered branches), (tables)) -> [(table, its branch)], in
#: creation order: sorting the metadata and finding each table's owner
#: took most of the time of reading a database's state, which asks for
#: each branch's tables.  A model imported or a branch registered since
#: changes the key.
_owned = {}


def _owned_tables():
    # Imported here so that reading the scripts never loads the models.
    from haas.model import db, table_owners
    key = (tuple(paths), tuple(db.metadata.tables))
    found = _owned.get(key)
    if found is None:
        owners = table_owners()
        found = [(t, branch_of_module(owners.get(t.name, '')))
                 for t in db.metadata.sorted_tables]
        _owned.clear()
        _owned[key] = found
    return found


def branch_tables(branches):
    """Tables of the models, in creation order, owned by `branches`."""
    return [table for table, branch in _owned_tables() if branch in branches]


def tables_of(branch):
    """Names of the tables of `branch`, as the models have them."""
    return [t.name for t in branch_tables([branch])]


def branch_of_table(name):
    from haas.model import table_owners
    return branch_of_module(table_owners().get(name, ''))
