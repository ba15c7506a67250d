"""The migration branches of the Brocade and Dell OS9 drivers pass the
checks every extension's do (haas.testing), on SQLite and PostgreSQL."""

from haas.testing import MigrationTests


class TestBrocadeMigrations(MigrationTests):
    extension = 'haas.ext.switches.brocade'


class TestDellNOS9Migrations(MigrationTests):
    extension = 'haas.ext.switches.dellnos9'
