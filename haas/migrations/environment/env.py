"""Alembic's environment for HaaS, for the commands HaaS runs itself.

`haas-admin db revision --autogenerate` and `db migrate` run Alembic's own
command functions, which load this file inside the HaaS application's
context, marked as HaaS's own (haas.migrations.runner.own_command).
Upgrades, downgrades and stamps do not come here: they go through
haas.migrations.runner, under the schema lock, with the ledger and the
data checks.  So every other command that loads this file (Flask-Migrate's
`upgrade()`, `alembic -c haas/migrations/environment/alembic.ini upgrade
heads`) is refused, with one line that names the `haas-admin db` command to use.
"""

from alembic import context

from haas.migrations import runner

runner.run_environment(context)
