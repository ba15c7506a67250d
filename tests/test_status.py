"""Each branch lifecycle state built for real, and what `db status` says of it.

Also `db forget`, which resolves an orphaned branch, on both databases.
"""

import contextlib
import fcntl
import importlib.util
import json
import re
import shutil
import sys
import time

import pytest
import sqlalchemy as sa

from haas import migrations
from haas.errors import DatabaseError
from haas.migrations import LEDGER, lock
from haas.migrations import schema as schema_module
from haas.migrations.lock import Holder
from haas.migrations.schema import Schema
from haas.migrations.state import Branch
from haas.model import db

from support.commands import cli, error_line, run_admin
from support.config import DEFAULT_EXTENSIONS, config_text
from support.databases import make_app, snapshot, state_rows, table_rows
from support.example import EXAMPLE_MODULE as MODULE
from support.example import FIRST, SECOND, WIDGET, install_example
from support.revisions import (
    CORE_BASELINE,
    CORE_HEAD,
    CORE_REVISIONS,
    LEDGER_HEAD,
    OBM,
    OBM_0_3,
    OBM_BASELINE,
    OBM_HEAD,
    SWITCH,
    SWITCH_BASELINE,
    SWITCH_HEAD,
    write_script,
)

DELL = 'haas.ext.switches.dell'
DELL_HEAD = 'e9c7556cca0f'
#: DEFAULT_EXTENSIONS without the mock switch: its branch is then orphaned.
WITHOUT_SWITCH = [e for e in DEFAULT_EXTENSIONS if e != SWITCH]
CORE_ONLY = ['haas.ext.auth.null', 'haas.ext.network_allocators.null']

ORPHAN_WARNING = (
    f'branch {SWITCH} is orphaned at {SWITCH_HEAD}: its extension is not '
    f'enabled in [extensions]; enable it again, or run `haas-admin db forget '
    f'{SWITCH}` (--drop-tables to drop its tables too)')
HEADER = ('BRANCH                  EXTENSION               ENABLED  DATABASE  '
          '    HEAD          PENDING  VERDICT')
#: The same, when no branch has a revision: the column is as wide as its name.
EMPTY_HEADER = ('BRANCH                  EXTENSION               ENABLED  '
                'DATABASE  HEAD          PENDING  VERDICT')
NO_RELEASE = ('Release: none (the branches are not all at the revisions of '
              'one of 0.2, 0.3, 0.4)')
#: A database at the heads: the last release.
RELEASE = 'Release: 0.4'


def up_to_date(branch, head):
    return Branch(branch=branch, extension=branch, enabled=True,
                  revision=head, head=head, pending=0, verdict='up to date')


def status_of(app):
    with app.app_context():
        return migrations.status()


def execute(app, *statements):
    """Run SQL by hand, as an operator would, in one transaction."""
    with app.app_context(), db.engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)


def created(uri, extensions=DEFAULT_EXTENSIONS):
    """`db create` on `uri`; the application it was made with."""
    app = make_app(uri, extensions)
    with app.app_context():
        migrations.create()
    return app


def progress(stderr):
    """The lines of `stderr`, with the time each revision took as T."""
    return [re.sub(r' in [0-9.]+ s$', ' in T s', line)
            for line in stderr.splitlines()]


def tables(app):
    with app.app_context(), db.engine.connect() as connection:
        return sorted(sa.inspect(connection).get_table_names())


def test_status_after_create_is_up_to_date_and_exits_0(databases):
    config = config_text(databases.new())
    cli(['db', 'create'], config)

    result = cli(['db', 'status'], config)

    assert (result.exit_code, result.stderr) == (0, '')
    assert result.stdout.splitlines() == [
        HEADER,
        f'haas                    haas                    yes      '
        f'{CORE_HEAD}  {CORE_HEAD}  0        up to date',
        f'{LEDGER}  {LEDGER}  yes      {LEDGER_HEAD}  {LEDGER_HEAD}  0      '
        f'  up to date',
        f'{SWITCH}  {SWITCH}  yes      {SWITCH_HEAD}  {SWITCH_HEAD}  0      '
        f'  up to date',
        f'{OBM}       {OBM}       yes      {OBM_HEAD}  {OBM_HEAD}  0        '
        f'up to date',
        RELEASE,
        'Schema lock: free',
        'Phase: contracted',
        'Every enabled branch is at its head.',
    ]


def test_status_with_an_enabled_extension_not_created_exits_1(databases):
    uri = databases.new()
    created(uri)

    result = cli(['db', 'status'], config_text(uri, DEFAULT_EXTENSIONS
                                               + [DELL]))

    assert (result.exit_code, result.stdout.splitlines()[4:]) == (1, [
        f'{OBM}       {OBM}       yes      {OBM_HEAD}  {OBM_HEAD}  0        '
        f'up to date',
        f'{DELL}  {DELL}  yes      -             {DELL_HEAD}  5        not '
        f'created',
        # A release is read from the branches a database has.
        RELEASE,
        'Schema lock: free',
        f'Next: the tables of branch {DELL} are missing: run `haas-admin db '
        f'create`'])


def test_status_of_an_empty_database_is_not_created_and_exits_1(databases):
    uri = databases.new()

    result = cli(['db', 'status'], config_text(uri))

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        EMPTY_HEADER,
        f'haas                    haas                    yes      -         '
        f'{CORE_HEAD}  {len(CORE_REVISIONS):<9}not created',
        f'{LEDGER}  {LEDGER}  yes      -         {LEDGER_HEAD}  1        not '
        f'created',
        f'{SWITCH}  {SWITCH}  yes      -         {SWITCH_HEAD}  3        not '
        f'created',
        f'{OBM}       {OBM}       yes      -         {OBM_HEAD}  3        not '
        f'created',
        NO_RELEASE,
        'Schema lock: free',
        'Next: the database is not initialised: run `haas-admin db create`',
    ]
    assert tables(make_app(uri)) == []


# --- a third-party branch ------------------------------------------------

LABEL_INDEX = "op.create_index('example_widget_label', 'example_widget', " \
              "['label'])"


def example_with_scripts(tmp_path, second=False):
    """The example extension on a scratch import path, with its first
    script (and a second one); the folder its import path is."""
    package = install_example(tmp_path)
    folder = package / 'migrations'
    write_script(folder, FIRST, labels=(MODULE,), depends=CORE_HEAD,
                 upgrade=WIDGET, downgrade="op.drop_table('example_widget')",
                 message='add example_widget')
    if second:
        write_script(folder, SECOND, down=FIRST, upgrade=LABEL_INDEX,
                     downgrade="op.drop_index('example_widget_label', "
                               "'example_widget')",
                     message='index widget labels')
    return package.parent


def test_branch_upgraded_to_its_first_of_two_scripts_is_behind(databases,
                                                               tmp_path):
    uri = databases.new()
    config = config_text(uri, CORE_ONLY + [MODULE])
    env = {'PYTHONPATH': str(example_with_scripts(tmp_path, second=True))}
    run_admin(['db', 'upgrade', f'{MODULE}@{FIRST}'], config=config,
              cwd=tmp_path, env=env)

    result = run_admin(['db', 'status', '--json'], config=config,
                       cwd=tmp_path, env=env, check=False)

    assert result.returncode == 1, result.stderr
    status = json.loads(result.stdout)
    assert status['branches'] == [
        up_to_date('haas', CORE_HEAD).as_dict(),
        up_to_date(LEDGER, LEDGER_HEAD).as_dict(),
        Branch(branch=MODULE, extension=MODULE, enabled=True,
               revision=FIRST, head=SECOND, pending=1,
               verdict='behind').as_dict(),
    ]
    assert (status['current'], status['advice']) == (
        False, f'branch {MODULE} is at {FIRST}, behind its head {SECOND} '
               f'(1 revision to run): run `haas-admin db upgrade heads`')


def uninstalled_example(databases, tmp_path):
    """A database made with the example extension, whose package is then
    gone; its URI."""
    uri = databases.new()
    site = example_with_scripts(tmp_path)
    run_admin(['db', 'create'], config=config_text(
        uri, DEFAULT_EXTENSIONS + [MODULE]), cwd=tmp_path,
        env={'PYTHONPATH': str(site)})
    shutil.rmtree(site)
    return uri


def test_uninstalled_extension_is_orphaned_under_its_recorded_name(
        databases, tmp_path):
    uri = uninstalled_example(databases, tmp_path)
    app = make_app(uri)
    # Only the label that `create` wrote still knows the branch's name.
    assert table_rows(app)['haas_schema_branch'][-1] == {
        'branch': MODULE, 'revision': FIRST, 'requires': CORE_HEAD,
        'tables': 'example_widget'}

    status = status_of(app)

    assert status.branches == [
        up_to_date('haas', CORE_HEAD), up_to_date(LEDGER, LEDGER_HEAD),
        up_to_date(SWITCH, SWITCH_HEAD),
        up_to_date(OBM, OBM_HEAD),
        Branch(branch=MODULE, extension=MODULE, enabled=False,
               revision=FIRST, head=None, pending=None, verdict='orphaned',
               installed=False)]
    assert (status.current, status.advice(), status.foreign_tables) == (
        True, None, [])
    assert status.warnings() == [
        f'branch {MODULE} is orphaned at {FIRST}: its extension is not '
        f'installed; enable it again, or run `haas-admin db forget {MODULE}` '
        f'(--drop-tables to drop its tables too)']
    text = cli(['db', 'status'], config_text(uri)).stdout.splitlines()
    assert text[5] == (f'{MODULE}        {MODULE}        not installed  '
                       f'{FIRST}  -             -        orphaned')


class EditableFinder:
    """Finds MODULE in `folder`, which is not on sys.path: the finder
    that `pip install -e` puts on sys.meta_path."""

    def __init__(self, folder):
        self.folder = folder

    def find_spec(self, name, path=None, target=None):
        if name != MODULE:
            return None
        return importlib.util.spec_from_file_location(
            name, self.folder / MODULE / '__init__.py',
            submodule_search_locations=[str(self.folder / MODULE)])


def test_disabled_extension_installed_by_a_finder_is_disabled_not_uninstalled(
        databases, tmp_path, monkeypatch):
    uri = databases.new()
    site = example_with_scripts(tmp_path)
    run_admin(['db', 'create'], config=config_text(
        uri, DEFAULT_EXTENSIONS + [MODULE]), cwd=tmp_path,
        env={'PYTHONPATH': str(site)})
    monkeypatch.setattr(sys, 'meta_path', [EditableFinder(site)]
                        + sys.meta_path)

    status = status_of(make_app(uri))
    text = cli(['db', 'status'], config_text(uri)).stdout.splitlines()

    assert (status.branches[-1], status.warnings()) == (
        Branch(branch=MODULE, extension=MODULE, enabled=False,
               revision=FIRST, head=None, pending=None, verdict='orphaned',
               installed=True),
        [f'branch {MODULE} is orphaned at {FIRST}: its extension is not '
         f'enabled in [extensions]; enable it again, or run `haas-admin db '
         f'forget {MODULE}` (--drop-tables to drop its tables too)'])
    assert text[5] == (f'{MODULE}        {MODULE}        no       '
                       f'{FIRST}  -             -        orphaned')


def test_forget_drop_tables_removes_an_uninstalled_branch_entirely(
        databases, tmp_path):
    uri = uninstalled_example(databases, tmp_path)
    app, fresh = make_app(uri), created(databases.new())

    result = cli(['db', 'forget', MODULE, '--drop-tables'], config_text(uri))

    assert (result.exit_code, result.stdout, result.stderr) == (
        0, f'Forgot {MODULE}; dropped example_widget.\n', '')
    assert snapshot(app) == snapshot(fresh)
    assert table_rows(app)['haas_schema_branch'] == table_rows(fresh)[
        'haas_schema_branch']
    assert status_of(app).branches == status_of(fresh).branches


# --- an extension taken out of [extensions] ------------------------------

SWITCH_ORPHAN = Branch(branch=SWITCH, extension=SWITCH, enabled=False,
                       revision=SWITCH_HEAD, head=None, pending=None,
                       verdict='orphaned')


def switch_disabled(uri):
    """A database created with the defaults, and an application on it
    without the mock switch."""
    created(uri)
    return make_app(uri, WITHOUT_SWITCH)


def test_disabled_extension_is_orphaned_and_its_tables_are_not_foreign(
        databases):
    app = switch_disabled(databases.new())

    status = status_of(app)

    assert status.branches == [up_to_date('haas', CORE_HEAD),
                               up_to_date(LEDGER, LEDGER_HEAD),
                               up_to_date(OBM, OBM_HEAD), SWITCH_ORPHAN]
    assert (status.current, status.advice(), status.foreign_tables,
            status.warnings()) == (True, None, [], [ORPHAN_WARNING])


def test_orphaned_branch_blocks_neither_upgrade_create_nor_serve(databases,
                                                                 capsys):
    uri = databases.new()
    app = switch_disabled(uri)
    config = config_text(uri, WITHOUT_SWITCH)
    before = snapshot(app), table_rows(app)
    capsys.readouterr()

    upgraded = cli(['db', 'upgrade', 'heads'], config)
    again = cli(['db', 'create'], config)
    status = cli(['db', 'status'], config)
    with app.app_context():
        migrations.require_current_schema()

    assert (upgraded.exit_code, upgraded.stdout, upgraded.stderr) == (
        0, '', f'Warning: {ORPHAN_WARNING}\n')
    assert (again.exit_code, again.stdout, again.stderr) == (
        0, 'Every enabled branch already exists; nothing created.\n',
        f'Warning: {ORPHAN_WARNING}\n')
    assert status.exit_code == 0
    assert status.stdout.splitlines()[-2:] == [
        f'Warning: {ORPHAN_WARNING}', 'Every enabled branch is at its head.']
    assert capsys.readouterr().err == f'Warning: {ORPHAN_WARNING}\n'
    assert (snapshot(app), table_rows(app)) == before


OBM_DOWN = (f'downgraded {OBM} from {OBM_HEAD} (Passwords of the mock OBM '
            f'encrypted at rest (mock_obm.password).) to {OBM_0_3} in T s')
OBM_0_3_DOWN = (f'downgraded {OBM} from {OBM_0_3} (HaaS 0.3: the keys of the '
                f'mock OBM are 64-bit.) to {OBM_BASELINE} in T s')
OBM_TO_BASE = (f'downgraded {OBM} from {OBM_BASELINE} (HaaS 0.2 baseline of '
               f'the mock OBM: adopt `mockobm`, or create.) to base in T s')
OBM_AT_BASE = (
    f'Warning: branch {OBM} is at base now, without its tables, and its '
    f'extension is still enabled: the servers refuse to start until '
    f'`haas-admin db create` makes them again, or until it is taken out of '
    f'[extensions] to retire it')


def test_downgrade_warns_of_an_orphaned_branch_as_upgrade_does(databases):
    uri = databases.new()
    switch_disabled(uri)

    result = cli(['db', 'downgrade', '--extension', OBM, '-1'],
                 config_text(uri, WITHOUT_SWITCH))

    assert (result.exit_code, result.stdout, progress(result.stderr)) == (
        0, '', [f'Warning: {ORPHAN_WARNING}', OBM_DOWN])


def test_downgrade_of_a_disabled_extension_warns_and_refuses(databases):
    uri = databases.new()
    app = switch_disabled(uri)
    before = snapshot(app), table_rows(app)

    result = cli(['db', 'downgrade', f'{SWITCH}@base'],
                 config_text(uri, WITHOUT_SWITCH))

    assert (result.exit_code, result.stdout, result.stderr.splitlines()) == (
        1, '', [f'Warning: {ORPHAN_WARNING}',
                f"Error: '{SWITCH}@base' names branch {SWITCH}, whose "
                f"extension is not enabled: add it to [extensions] first "
                f"(branches: haas, {OBM}, {LEDGER})"])
    assert (snapshot(app), table_rows(app)) == before


def test_downgrade_to_base_of_an_enabled_extension_warns_it_has_no_tables(
        databases):
    uri = databases.new()
    app = created(uri)

    result = cli(['db', 'downgrade', '--extension', OBM, 'base'],
                 config_text(uri))

    assert (result.exit_code, result.stdout, progress(result.stderr)) == (
        0, '', [OBM_DOWN, OBM_0_3_DOWN, OBM_TO_BASE, OBM_AT_BASE])
    assert status_of(app).advice().message == (
        f'the tables of branch {OBM} are missing: run `haas-admin db '
        f'create`')


@pytest.mark.parametrize('verb', ['upgrade', 'create'])
def test_orphaned_branch_does_not_stop_another_extension_being_added(
        databases, verb):
    uri = databases.new()
    switch_disabled(uri)
    widened = WITHOUT_SWITCH + [DELL]
    app = make_app(uri, widened)
    before, before_tables = status_of(app), set(tables(app))

    result = cli(['db', verb], config_text(uri, widened))

    assert before.advice().message == (
        f'the tables of branch {DELL} are missing: run `haas-admin db '
        f'create`')
    warning = f'Warning: {ORPHAN_WARNING}'
    assert (result.exit_code, result.stdout) == (0, {
        'upgrade': '', 'create': f'Created branches: {DELL}\n'}[verb])
    assert progress(result.stderr) == {
        # Its branch has no tables: built from its checkpoint at 0.3.
        'upgrade': [warning, f'built {DELL} at 9d5f2cab3511 (HaaS 0.3: the '
                             f'keys of the Dell PowerConnect switch are '
                             f'64-bit.) from its checkpoint, in place of 2 '
                             f'revisions, in T s',
                    f'upgraded {DELL} to 4f1c2e8a7b30 (A PowerConnect switch '
                    f'may save its configuration after each change.) in T s',
                    f'upgraded {DELL} to 7a8f49167416 (A PowerConnect switch '
                    f'may be reached over telnet.) in T s',
                    f'upgraded {DELL} to {DELL_HEAD} (Passwords of the Dell '
                    f'PowerConnect switch encrypted at rest '
                    f'(power_connect55xx.password).) in T s'],
        'create': [warning, f'stamped {DELL} at {DELL_HEAD}']}[verb]
    status = status_of(app)
    assert status.branches == [
        up_to_date('haas', CORE_HEAD), up_to_date(LEDGER, LEDGER_HEAD),
        up_to_date(OBM, OBM_HEAD), up_to_date(DELL, DELL_HEAD), SWITCH_ORPHAN]
    assert set(tables(app)) - before_tables == {'power_connect55xx'}


def test_reenabled_extension_is_up_to_date_and_cannot_be_forgotten(
        databases):
    uri = databases.new()
    switch_disabled(uri)

    status = status_of(make_app(uri))
    refused = cli(['db', 'forget', SWITCH], config_text(uri))

    assert status.branches == [up_to_date('haas', CORE_HEAD),
                               up_to_date(LEDGER, LEDGER_HEAD),
                               up_to_date(SWITCH, SWITCH_HEAD),
                               up_to_date(OBM, OBM_HEAD)]
    assert status.warnings() == []
    assert error_line(refused) == (
        f'{SWITCH} is enabled: take it out of [extensions] first (to remove '
        f'its tables from an enabled extension, downgrade it: `haas-admin db '
        f'downgrade --extension {SWITCH} base`)')


def test_forget_without_drop_tables_keeps_the_tables_as_foreign(databases):
    uri = databases.new()
    app = switch_disabled(uri)
    before = tables(app)

    result = cli(['db', 'forget', SWITCH], config_text(uri, WITHOUT_SWITCH))

    assert (result.exit_code, result.stdout, result.stderr) == (
        0, f'Forgot {SWITCH}.\n', '')
    status = status_of(app)
    assert status.branches == [up_to_date('haas', CORE_HEAD),
                               up_to_date(LEDGER, LEDGER_HEAD),
                               up_to_date(OBM, OBM_HEAD)]
    assert (status.foreign_tables, status.warnings()) == (['mock_switch'], [])
    assert tables(app) == before
    # Core keeps a row: its head is past the 0.3 the OBM's implies.
    assert snapshot(app)['alembic_version'] == sorted([LEDGER_HEAD, OBM_HEAD,
                                                       CORE_HEAD])
    assert [r['branch'] for r in table_rows(app)['haas_schema_branch']] == [
        'haas', OBM, LEDGER]


def test_forget_drop_tables_refuses_while_another_table_refers_to_them(
        databases):
    uri = databases.new()
    app = switch_disabled(uri)
    execute(app, 'CREATE TABLE switch_note (id INTEGER PRIMARY KEY, '
                 'switch_id INTEGER REFERENCES mock_switch (id))')
    before = snapshot(app), table_rows(app)

    result = cli(['db', 'forget', SWITCH, '--drop-tables'],
                 config_text(uri, WITHOUT_SWITCH))

    assert error_line(result) == (
        f'table switch_note refers to mock_switch of {SWITCH}: remove what '
        f'uses it first, or forget it without --drop-tables')
    assert (snapshot(app), table_rows(app)) == before


# --- tables without their version row ------------------------------------

@pytest.mark.parametrize('verb', ['upgrade', 'create'])
def test_dropped_version_row_is_adoptable_and_restored(databases, verb):
    uri = databases.new()
    app = created(uri)
    before = snapshot(app), state_rows(app)
    execute(app, f"DELETE FROM alembic_version WHERE version_num = "
                 f"'{OBM_HEAD}'")

    status = status_of(app)
    result = cli(['db', verb], config_text(uri))

    assert status.branches == [
        up_to_date('haas', CORE_HEAD), up_to_date(LEDGER, LEDGER_HEAD),
        up_to_date(SWITCH, SWITCH_HEAD),
        # Its first script adopts tables it finds, as from HaaS 0.2; the
        # second widens their keys again, which changes nothing.
        Branch(branch=OBM, extension=OBM, enabled=True, revision=None,
               head=OBM_HEAD, pending=3, verdict='adoptable', adopt_at=None,
               detail='its first script adopts them')]
    assert status.advice().message == (
        f'branch {OBM} has tables but no version row (its first script '
        f'adopts them): run `haas-admin db upgrade heads` to adopt them')
    assert (result.exit_code, result.stdout) == (0, {
        'upgrade': '', 'create': f'Created branches: {OBM}\n'}[verb])
    assert progress(result.stderr) == [
        f'upgraded {OBM} to {OBM_BASELINE} (HaaS 0.2 baseline of the mock '
        f'OBM: adopt `mockobm`, or create.) in T s',
        f'upgraded {OBM} to {OBM_0_3} (HaaS 0.3: the keys of the mock OBM '
        f'are 64-bit.) in T s',
        f'upgraded {OBM} to {OBM_HEAD} (Passwords of the mock OBM encrypted '
        f'at rest (mock_obm.password).) in T s']
    assert (snapshot(app), state_rows(app)) == before
    last = table_rows(app)['haas_schema_ledger'][-1]
    assert (last['branch'], last['direction'], last['outcome']) == (
        OBM, 'upgrade', 'ok')


def test_dropped_row_of_tables_changed_by_hand_is_mismatch_and_refused(
        databases, tmp_path):
    uri = databases.new()
    app = created(uri)
    execute(app, 'ALTER TABLE mock_obm ADD COLUMN note VARCHAR',
            f"DELETE FROM alembic_version WHERE version_num = '{OBM_HEAD}'")
    before = snapshot(app), table_rows(app)
    config = config_text(uri)

    status = status_of(app)
    refusals = [cli(['db', verb], config) for verb in ('upgrade', 'create')]
    # haas-admin runs single-threaded: it builds the revisions' schemas in
    # a child process, where a test worker uses a thread.
    executable = run_admin(['db', 'upgrade'], config, cwd=tmp_path,
                           check=False)

    assert status.branches[-1] == Branch(
        branch=OBM, extension=OBM, enabled=True, revision=None,
        head=OBM_HEAD, pending=None, verdict='mismatch',
        detail=f'closest is revision {OBM_BASELINE}: mock_obm has unexpected '
               f'column note')
    message = (f'the tables of branch {OBM} match none of its revisions '
               f'(closest is revision {OBM_BASELINE}: mock_obm has unexpected '
               f'column note): they are not HaaS\'s, or were changed by hand; '
               f'rename or drop them, or check [database] uri')
    assert status.advice().message == message
    assert [error_line(r) for r in refusals] == [message, message]
    assert (executable.returncode, executable.stdout, executable.stderr) == (
        1, '', f'Error: {message}\n')
    assert (snapshot(app), table_rows(app)) == before


# --- tables of no branch, and rows of no script ---------------------------

FOREIGN_NODE_DETAIL = (
    f'closest is revision {CORE_BASELINE}: node lacks columns project_id, '
    'obm_id; node.label is String nullable, not String NOT NULL; node has '
    'foreign keys none, not (obm_id) -> obm(id), (project_id) -> project(id)')
FOREIGN_NODE = (
    f'the tables of branch haas match none of its revisions '
    f'({FOREIGN_NODE_DETAIL}): they are not HaaS\'s, or were changed by '
    f'hand; rename or drop them, or check [database] uri')


def test_every_mismatched_branch_is_named_by_check_and_by_upgrade(
        databases):
    uri = databases.new()
    app = created(uri)
    execute(app, 'ALTER TABLE mock_obm ADD COLUMN note VARCHAR',
            'ALTER TABLE mock_switch ADD COLUMN note VARCHAR',
            f"DELETE FROM alembic_version WHERE version_num IN "
            f"('{OBM_HEAD}', '{SWITCH_HEAD}')")
    config = config_text(uri)

    check = cli(['db', 'check'], config)
    upgrade = cli(['db', 'upgrade'], config)

    def mismatch(branch, table):
        closest = {OBM: OBM_BASELINE, SWITCH: SWITCH_BASELINE}[branch]
        return (f'the tables of branch {branch} match none of its revisions '
                f'(closest is revision {closest}: {table} has unexpected '
                f'column note): they are not HaaS\'s, or were changed by '
                f'hand; rename or drop them, or check [database] uri')
    assert check.stdout.splitlines() == [
        f'database: {mismatch(SWITCH, "mock_switch")}',
        f'database: {mismatch(OBM, "mock_obm")}']
    assert error_line(upgrade) == (f'{mismatch(SWITCH, "mock_switch")}; '
                                   f'{mismatch(OBM, "mock_obm")}')


def test_foreign_node_table_is_core_mismatch_and_stops_serve(databases):
    uri = databases.new()
    app = make_app(uri)
    execute(app, 'CREATE TABLE node (id INTEGER PRIMARY KEY, label TEXT)')
    config = config_text(uri)

    status = cli(['db', 'status'], config)
    serve = cli(['serve'], config)

    assert status.exit_code == 1
    assert status.stdout.splitlines() == [
        EMPTY_HEADER,
        f'haas                    haas                    yes      -         '
        f'{CORE_HEAD}  -        mismatch',
        f'{LEDGER}  {LEDGER}  yes      -         {LEDGER_HEAD}  1        not '
        f'created',
        f'{SWITCH}  {SWITCH}  yes      -         {SWITCH_HEAD}  3        not '
        f'created',
        f'{OBM}       {OBM}       yes      -         {OBM_HEAD}  3        not '
        f'created',
        NO_RELEASE,
        'Schema lock: free',
        f'haas: {FOREIGN_NODE_DETAIL}',
        f'Next: {FOREIGN_NODE}',
    ]
    assert error_line(serve) == FOREIGN_NODE
    with app.app_context(), pytest.raises(DatabaseError) as refused:
        migrations.require_current_schema()
    assert str(refused.value) == FOREIGN_NODE


def test_unrelated_table_is_listed_as_foreign_and_blocks_nothing(databases):
    uri = databases.new()
    app = make_app(uri)
    execute(app, 'CREATE TABLE audit_log (id INTEGER PRIMARY KEY, entry TEXT)')
    config = config_text(uri)

    before = status_of(app)
    made = cli(['db', 'create'], config)
    upgraded = cli(['db', 'upgrade'], config)
    status = cli(['db', 'status'], config)
    with app.app_context():
        migrations.require_current_schema()

    assert (before.foreign_tables, before.advice().message) == (
        ['audit_log'],
        'the database is not initialised: run `haas-admin db create`')
    assert (made.exit_code, made.stdout) == (
        0, f'Created branches: haas, {LEDGER}, {SWITCH}, {OBM}\n')
    assert (upgraded.exit_code, upgraded.stderr) == (0, '')
    assert status.exit_code == 0
    assert status.stdout.splitlines()[-3:] == [
        'Tables of no branch: audit_log', 'Phase: contracted',
        'Every enabled branch is at its head.']
    assert status_of(app).foreign_tables == ['audit_log']
    fresh = created(databases.new())
    assert set(tables(app)) - set(tables(fresh)) == {'audit_log'}


UNKNOWN = '0123456789ab'


def test_row_of_no_script_is_unknown_and_blocks_until_forgotten(databases):
    uri = databases.new()
    app = created(uri)
    before = snapshot(app)
    execute(app, f"INSERT INTO alembic_version VALUES ('{UNKNOWN}')")
    config = config_text(uri)
    message = (f'the database is stamped at revision {UNKNOWN}, which no '
               f'installed branch provides: install the HaaS release or the '
               f'extension that wrote it, or run `haas-admin db forget '
               f'{UNKNOWN}` if you know it is gone for good')

    status = status_of(app)
    shown = cli(['db', 'status'], config)
    upgraded = cli(['db', 'upgrade'], config)
    serve = cli(['serve'], config)
    forgotten = cli(['db', 'forget', UNKNOWN], config)

    assert status.branches[-1] == Branch(
        branch=None, extension=None, enabled=False, revision=UNKNOWN,
        head=None, pending=None, verdict='unknown revision', installed=False)
    assert status.advice().message == message
    # The servers refuse this database, so status must not pass it.
    assert (shown.exit_code, shown.stdout.splitlines()[-1]) == (
        1, f'Next: {message}')
    assert [error_line(upgraded), error_line(serve)] == [message, message]
    assert (forgotten.exit_code, forgotten.stdout) == (
        0, f'Forgot {UNKNOWN}.\n')
    assert snapshot(app) == before
    assert status_of(app).advice() is None


def test_branch_stamped_by_a_newer_release_is_unknown_revision(databases):
    uri = databases.new()
    app = created(uri)
    # What a later release of the mock OBM leaves behind: its row and label.
    execute(app, f"UPDATE alembic_version SET version_num = '{UNKNOWN}' "
                 f"WHERE version_num = '{OBM_HEAD}'",
            f"UPDATE haas_schema_branch SET revision = '{UNKNOWN}' WHERE "
            f"branch = '{OBM}'")
    after = snapshot(app), table_rows(app)

    status = status_of(app)
    shown = cli(['db', 'status'], config_text(uri))
    upgraded = cli(['db', 'upgrade'], config_text(uri))

    assert status.branches == [
        up_to_date('haas', CORE_HEAD), up_to_date(LEDGER, LEDGER_HEAD),
        up_to_date(SWITCH, SWITCH_HEAD),
        Branch(branch=OBM, extension=OBM, enabled=True, revision=UNKNOWN,
               head=OBM_HEAD, pending=None, verdict='unknown revision')]
    message = (f'branch {OBM} is at revision {UNKNOWN}, which its scripts do '
               f'not have: a newer release of {OBM} wrote it; install that '
               f'release, or restore the backup taken before that upgrade')
    assert (shown.exit_code, shown.stdout.splitlines()[-1]) == (
        1, f'Next: {message}')
    assert error_line(upgraded) == message
    assert (snapshot(app), table_rows(app)) == after


def test_core_stamped_by_a_newer_release_is_unknown_and_stops_the_servers(
        databases):
    uri = databases.new()
    app = created(uri)
    # A later release's core revision: its row, and core's label naming it
    # (the extensions' rows still imply the revision before it).
    execute(app, f"INSERT INTO alembic_version VALUES ('{UNKNOWN}')",
            f"UPDATE haas_schema_branch SET revision = '{UNKNOWN}' WHERE "
            f"branch = 'haas'")
    config = config_text(uri)

    status = status_of(app)
    serve = cli(['serve'], config)

    assert status.branches[0] == Branch(
        branch='haas', extension='haas', enabled=True, revision=UNKNOWN,
        head=CORE_HEAD, pending=None, verdict='unknown revision')
    assert status.orphans == []
    assert error_line(serve) == (
        f'branch haas is at revision {UNKNOWN}, which its scripts do not '
        f'have: a newer release of haas wrote it; install that release, or '
        f'restore the backup taken before that upgrade')


# --- --json and --wait ------------------------------------------------------

def test_status_json_is_the_whole_state_and_the_same_bytes_twice(databases):
    uri = databases.new()
    app = switch_disabled(uri)
    execute(app, 'CREATE TABLE audit_log (id INTEGER PRIMARY KEY, entry TEXT)')
    config = config_text(uri, WITHOUT_SWITCH)

    first, second = (cli(['db', 'status', '--json'], config)
                     for _ in range(2))

    assert (first.exit_code, second.exit_code) == (0, 0)
    assert first.stdout == second.stdout
    assert json.loads(first.stdout) == {
        'branches': [
            {'branch': 'haas', 'extension': 'haas', 'enabled': True,
             'revision': CORE_HEAD, 'head': CORE_HEAD, 'pending': 0,
             'verdict': 'up to date', 'adopt_at': None, 'detail': '',
             'installed': True},
            up_to_date(LEDGER, LEDGER_HEAD).as_dict(),
            {'branch': OBM, 'extension': OBM, 'enabled': True,
             'revision': OBM_HEAD, 'head': OBM_HEAD, 'pending': 0,
             'verdict': 'up to date', 'adopt_at': None, 'detail': '',
             'installed': True},
            {'branch': SWITCH, 'extension': SWITCH, 'enabled': False,
             'revision': SWITCH_HEAD, 'head': None, 'pending': None,
             'verdict': 'orphaned', 'adopt_at': None, 'detail': '',
             'installed': True},
        ],
        'lock': None,
        'foreign_tables': ['audit_log'],
        'current': True,
        'release': '0.4',
        'advice': None,
        'warnings': [ORPHAN_WARNING],
        'phase': 'contracted',
        'expansion': None,
        'clients': None,
    }


class Polls(list):
    """The Status of each poll `db status` made, in order; `then`, if set,
    runs once, between the first poll and the second."""

    then = None
    busy = False


@pytest.fixture
def polls(monkeypatch):
    seen = Polls()
    inspect, sleep = Schema.inspect, time.sleep

    def polled(self, connection):
        status = inspect(self, connection)
        if not seen.busy:
            seen.append(status)
        return status

    def pause(seconds):
        if seen.then is not None:
            then, seen.then = seen.then, None
            seen.busy = True
            then()
            seen.busy = False
        sleep(seconds)

    monkeypatch.setattr(Schema, 'inspect', polled)
    monkeypatch.setattr(schema_module.time, 'sleep', pause)
    return seen


def test_status_wait_returns_0_once_the_database_becomes_current(
        databases, polls):
    uri = databases.new()
    # Another deploy step creates the database after the first look.
    polls.then = lambda: created(uri)

    result = cli(['db', 'status', '--wait', '2'], config_text(uri))

    assert (result.exit_code, result.stdout.splitlines()[-1]) == (
        0, 'Every enabled branch is at its head.')
    assert [s.current for s in polls] == [False, True]


def test_status_wait_exits_1_when_the_database_stays_behind(databases,
                                                            polls):
    uri = databases.new()

    result = cli(['db', 'status', '--wait', '1'], config_text(uri))

    assert (result.exit_code, result.stdout.splitlines()[-1]) == (
        1, 'Next: the database is not initialised: run `haas-admin db '
           'create`')
    assert len(polls) > 1 and not any(s.current for s in polls)


# --- the schema lock -------------------------------------------------------

HOLDER = 'haas-lock|4242|1764580586|web1|haas-admin db upgrade'


@contextlib.contextmanager
def lock_held(app):
    """Hold the schema lock from another session, as a running upgrade
    would; yields the backend pid of that session (None on SQLite)."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == 'postgresql':
        with engine.connect() as connection:
            connection.exec_driver_sql(f"SET application_name = '{HOLDER}'")
            connection.execute(sa.text('SELECT pg_advisory_lock(:k)'),
                               {'k': lock.KEY})
            connection.commit()
            try:
                yield connection.exec_driver_sql(
                    'SELECT pg_backend_pid()').scalar()
            finally:
                connection.exec_driver_sql('SELECT pg_advisory_unlock_all()')
                connection.commit()
        return
    _, pid, since, host, command = HOLDER.split('|')
    # flock locks belong to the open file, so this process's own check
    # sees this one as another holder's.
    with open(engine.url.database + '.haas-lock', 'w') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        json.dump({'command': command, 'pid': int(pid), 'host': host,
                   'since': int(since)}, f)
        f.flush()
        try:
            yield None
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def test_status_shows_the_lock_holder_without_waiting_for_it(databases):
    uri = databases.new()
    created(uri)
    # Were status to wait for the lock, it would fail after a second.
    extra = '[migrations]\nlock_wait = 1\n'
    app, config = make_app(uri, extra=extra), config_text(uri, extra=extra)

    with lock_held(app) as backend:
        status = status_of(app)
        shown = cli(['db', 'status'], config)
        as_json = cli(['db', 'status', '--json'], config)
    after = status_of(app)

    assert status.lock == Holder(command='haas-admin db upgrade', pid=4242,
                                 host='web1', since=1764580586,
                                 backend=backend)
    where = '' if backend is None else f', database backend pid {backend}'
    assert (shown.exit_code, shown.stdout.splitlines()[5:7]) == (
        0, [RELEASE,
            f'Schema lock: haas-admin db upgrade (pid 4242 on web1, since '
            f'2025-12-01 09:16:26 UTC{where})'])
    assert json.loads(as_json.stdout)['lock'] == {
        'command': 'haas-admin db upgrade', 'pid': 4242, 'host': 'web1',
        'since': '2025-12-01 09:16:26 UTC', 'backend_pid': backend}
    assert after.lock is None
