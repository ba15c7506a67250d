"""`db stamp` and `db forget`: version rows written or removed without
running a script, and the tables of a forgotten branch dropped."""

import sys

import sqlalchemy as sa

from haas.errors import MigrationError
from haas.migrations import bookkeeping
from haas.migrations.lock import begin
from haas.migrations.registry import BUILT_IN
from haas.migrations.scripts import revision_errors
from haas.migrations.tables import tables_of
from haas.migrations.upgrading import NO_REVISION


class Stamping:
    """The `stamp` and `forget` verbs of Schema."""

    def stamp(self, revision, purge=False, sql=False, output=None,
              lock_wait=None):
        if not revision:
            raise MigrationError(NO_REVISION)
        if sql:
            with revision_errors(self.branches, revision):
                steps = self._stamp_steps(revision, ())
            self.runner().sql(self.engine.dialect.name, steps, (),
                              output or sys.stdout)
            return
        with self.writing(lock_wait) as connection:
            hidden = self._prepare(connection)
            heads, _ = self.visible_rows(connection)
            with revision_errors(self.branches, revision):
                steps = self._stamp_steps(revision,
                                          () if purge else heads)
            with begin(connection):
                if purge:
                    bookkeeping.delete_rows(
                        connection, bookkeeping.version_rows(connection))
                self.runner().run(connection, steps, hidden,
                                  in_transaction=True)
                self._record(connection)

    def forget(self, name, drop_tables=False, lock_wait=None):
        """See haas.migrations.forget; returns the tables dropped."""
        if name in BUILT_IN:
            raise MigrationError(f'{name} is a branch of HaaS itself, which '
                                 f'is always enabled: it cannot be forgotten')
        if name in self.branches.folders:
            raise MigrationError(
                f'{name} is enabled: take it out of [extensions] first (to '
                f'remove its tables from an enabled extension, downgrade it: '
                f'`haas-admin db downgrade --extension {name} base`)')
        with self.writing(lock_wait) as connection:
            status = self.inspect(connection)
            orphan = next((b for b in status.orphans
                           if name in (b.branch, b.revision)), None)
            if orphan is None:
                raise MigrationError(
                    f'the database has no orphaned branch or revision {name}'
                    f' (`haas-admin db status` lists them)')
            tables = self._orphan_tables(connection, orphan)
            if drop_tables:
                self._check_references(connection, orphan, tables)
            self._prepare(connection)
            with begin(connection):
                bookkeeping.delete_rows(connection, [orphan.revision])
                if orphan.branch is not None:
                    bookkeeping.forget_label(connection, orphan.branch)
                if drop_tables:
                    metadata = sa.MetaData()
                    metadata.reflect(connection, only=tables)
                    # reflect() adds the tables they refer to; drop only
                    # theirs.
                    for table in reversed(metadata.sorted_tables):
                        if table.name in tables:
                            table.drop(connection)
        return tables if drop_tables else []

    def _orphan_tables(self, connection, orphan):
        label = bookkeeping.labels(connection).get(orphan.branch)
        if label is not None:
            names = label.tables
        elif orphan.branch is not None and orphan.installed:
            from haas import extensions
            extensions.load(orphan.branch)
            names = tables_of(orphan.branch)
        else:
            names = ()
        present = set(sa.inspect(connection).get_table_names())
        return [t for t in names if t in present]

    def _check_references(self, connection, orphan, tables):
        if not tables:
            raise MigrationError(
                f'HaaS does not know the tables of '
                f'{orphan.branch or orphan.revision}: forget it without '
                f'--drop-tables, then drop them by hand')
        inspector = sa.inspect(connection)
        for other in sorted(set(inspector.get_table_names()) - set(tables)):
            for fk in inspector.get_foreign_keys(other):
                if fk['referred_table'] in tables:
                    raise MigrationError(
                        f'table {other} refers to {fk["referred_table"]} of '
                        f'{orphan.branch}: remove what uses it first, or '
                        f'forget it without --drop-tables')
