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


def branch_tables(branches):
    """Tables of the models, in creation order, owned by `branches`."""
    # Imported here so that reading the scripts never loads the models.
    from haas.model import db, table_owners
    owners = table_owners()
    return [t for t in db.metadata.sorted_tables
            if branch_of_module(owners.get(t.name, '')) in branches]


def tables_of(branch):
    """Names of the tables of `branch`, as the models have them."""
    return [t.name for t in branch_tables([branch])]


def branch_of_table(name):
    from haas.model import table_owners
    return branch_of_module(table_owners().get(name, ''))
