"""The migration branches' registry: core's branch names and `paths`.

Plain data at the bottom of the migrations library, which its modules (and
the extension loader) import instead of the `haas.migrations` package, the
library's entry point; `haas.migrations.paths` is this same dict.
"""

import os

CORE = 'haas'
#: The branch of the migration ledger, haas.migrations.ledger's table.
LEDGER = 'haas.migrations.ledger'
#: Branches of HaaS itself, enabled whatever [extensions] says.
BUILT_IN = (CORE, LEDGER)
MIGRATIONS_DIR = os.path.dirname(os.path.abspath(__file__))

#: Branch label -> folder of its version scripts.  Core registers `haas`;
#: an extension with tables registers ``paths[__name__] = <its folder>``
#: when it is imported.  Only the branches of enabled extensions take part.
paths = {CORE: os.path.join(MIGRATIONS_DIR, 'versions'),
         LEDGER: os.path.join(MIGRATIONS_DIR, 'ledger_versions')}
