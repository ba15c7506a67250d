"""Alembic's environment for HaaS, for the commands Alembic runs itself.

`haas-admin db revision --autogenerate` and `db migrate` run Alembic's own
command functions, which load this file inside the HaaS application's
context.  Upgrades, downgrades and stamps do not come here: they go
through haas.migrations.runner, which sets the same options.
"""

from alembic import context

from haas.migrations import runner

runner.run_environment(context)
