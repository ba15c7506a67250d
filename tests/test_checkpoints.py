"""Per-branch checkpoints: each committed one builds what the revisions it
replaces build, on SQLite and PostgreSQL; an upgrade from nothing takes
it, a database at an older revision goes through the history, and the
revisions after it follow either way."""

import io
import os

import pytest
import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext

from haas import migrations
from haas.migrations import checkpoints, ledger, ops
from haas.migrations.releases import Release
from haas.migrations.scripts import Branches
from haas.model import db
from haas.testing import postgresql_databases

from support.commands import cli, error_line
from support.config import LEGACY_EXTENSIONS, config_text
from support.databases import POSTGRES_URL, make_app, snapshot, state_rows

DELL = 'haas.ext.switches.dell'
#: The committed checkpoints: {branch: the revision each stands for}.
COMMITTED = {'haas': 'eba7cfa60973', DELL: '9d5f2cab3511'}


def committed(branch):
    found, = checkpoints.of(Branches(LEGACY_EXTENSIONS))[branch]
    return found


def built(databases, target, use):
    app = make_app(databases.new(), LEGACY_EXTENSIONS)
    with app.app_context():
        migrations.upgrade(target, checkpoints=use)
    return app


def test_the_committed_checkpoints_are_read_and_usable():
    branches = Branches(LEGACY_EXTENSIONS)

    assert {b: [c.revision for c in found]
            for b, found in checkpoints.of(branches).items()} == {
        b: [r] for b, r in COMMITTED.items()}
    assert checkpoints.problems(branches) == []


@pytest.mark.parametrize('branch', COMMITTED)
def test_a_checkpoint_builds_what_its_history_builds(databases, branch):
    """Schema, sequences, rows, version rows and branch labels alike."""
    target = COMMITTED[branch]
    history = built(databases, target, use=False)

    checkpoint = built(databases, target, use=True)

    assert snapshot(checkpoint) == snapshot(history)
    assert state_rows(checkpoint) == state_rows(history)


def test_an_upgrade_from_nothing_runs_checkpoints_in_place_of_revisions(
        databases):
    app = make_app(databases.new(), LEGACY_EXTENSIONS)
    with app.app_context():
        plan = migrations.upgrade('heads', plan=True)
        migrations.upgrade('heads')
        status = migrations.status()

    taken = [(s.action, s.branch, s.script.revision) for s in plan.steps
             if s.action == 'checkpoint']
    ran = {s.script.revision for s in plan.steps if s.action == 'upgrade'}
    assert taken == [('checkpoint', b, r) for b, r in COMMITTED.items()]
    assert not ran & {r for b in COMMITTED
                      for r in committed(b).replaces}
    assert status.advice() is None


def test_the_ledger_records_the_checkpoint_and_verify_is_content(databases):
    app = make_app(databases.new(), LEGACY_EXTENSIONS)
    with app.app_context():
        migrations.upgrade('heads')
        with db.engine.connect() as connection:
            rows = ledger.rows(connection, DELL)
        changes, _ = migrations.verify()

    assert [(r['revision'], r['direction']) for r in rows] == [
        ('9d5f2cab3511', 'checkpoint'), ('4f1c2e8a7b30', 'upgrade'),
        ('7a8f49167416', 'upgrade'), ('e9c7556cca0f', 'upgrade')]
    assert rows[0]['fingerprint'] == ledger.fingerprint(
        committed(DELL).path)
    assert changes == []


def test_a_database_at_an_older_revision_upgrades_through_its_history(
        databases):
    """At release 0.2 the branches have tables: every revision runs, and
    the result is what a database built from the checkpoints has."""
    app = make_app(databases.new(), LEGACY_EXTENSIONS)
    with app.app_context():
        migrations.upgrade(Release('0.2'))
        plan = migrations.upgrade('heads', plan=True)
        migrations.upgrade('heads')
    fresh = built(databases, 'heads', use=True)

    assert 'checkpoint' not in {s.action for s in plan.steps}
    assert {'eba7cfa60973', '9d5f2cab3511'} <= {
        s.script.revision for s in plan.steps}
    assert snapshot(app) == snapshot(fresh)
    assert state_rows(app) == state_rows(fresh)


def test_the_sql_of_an_upgrade_from_nothing_uses_the_checkpoints():
    # For PostgreSQL, written without connecting to it.
    app = make_app(sa.make_url(POSTGRES_URL).set(
        database='haas_never_made').render_as_string(False),
        LEGACY_EXTENSIONS)
    output, history = io.StringIO(), io.StringIO()
    with app.app_context():
        migrations.upgrade_sql('heads', output=output)
        migrations.upgrade_sql('heads', output=history, checkpoints=False)

    assert '-- upgrade haas: checkpoint eba7cfa60973 of branch haas (8 ' \
           'revisions at once)' in output.getvalue()
    assert '-- upgrade haas: 3c2af72d0b46' in history.getvalue()
    assert '-- upgrade haas: 3c2af72d0b46' not in output.getvalue()


@pytest.mark.parametrize('branch', COMMITTED)
def test_the_committed_checkpoints_are_what_db_checkpoint_writes(
        branch, pg_databases):
    pg_databases.new()  # skips, or fails in CI, without a server
    branches = Branches(LEGACY_EXTENSIONS)
    checkpoint = committed(branch)
    with make_app('sqlite://', LEGACY_EXTENSIONS).app_context(), \
            postgresql_databases(POSTGRES_URL) as new:
        text = checkpoints.render(branches, branch, checkpoint.revision,
                                  new, release='0.3')

    with open(checkpoint.path, encoding='utf-8') as f:
        assert text == f.read()


def tampered(good, folder, old, new):
    """Checkpoint `good` with `old` replaced by `new`, in `folder`."""
    with open(good.path, encoding='utf-8') as f:
        text = f.read()
    path = folder / 'checkpoint.py'
    path.write_text(text.replace(old, new))
    return checkpoints.Checkpoint(good.branch, good.revision, good.replaces,
                                  str(path), checkpoints._load(str(path)))


def test_db_check_finds_a_checkpoint_that_builds_other_than_its_history(
        tmp_path):
    branches = Branches(LEGACY_EXTENSIONS)
    good = committed(DELL)
    bad = tampered(good, tmp_path, "    sa.Column('username', sa.VARCHAR(), "
                                   "nullable=False),\n", '')
    with make_app('sqlite://', LEGACY_EXTENSIONS).app_context():
        assert checkpoints.differences(branches, good) == []

        problems = checkpoints.differences(branches, bad)

    assert len(problems) == 1
    assert problems[0].startswith(
        'checkpoint 9d5f2cab3511 of branch haas.ext.switches.dell differs '
        'from its history: tables power_connect55xx: the history builds ')


def test_a_checkpoint_whose_history_changed_is_not_used(tmp_path):
    """A revision inserted before the checkpoint's point: it no longer
    replaces the branch's history, and `db check` says so."""
    branches = Branches(LEGACY_EXTENSIONS)
    good = committed(DELL)
    folder = tmp_path / 'dell'
    (folder / 'checkpoints').mkdir(parents=True)
    with open(good.path, encoding='utf-8') as f:
        text = f.read()
    (folder / 'checkpoints' / os.path.basename(good.path)).write_text(
        text.replace("replaces = ('099b939261c1', '9d5f2cab3511')",
                     "replaces = ('9d5f2cab3511',)"))
    branches.folders = {**branches.folders, DELL: str(folder)}

    assert DELL not in checkpoints.of(branches)
    assert checkpoints.problems(branches) == [
        f'{folder}/checkpoints/9d5f2cab3511_checkpoint.py: replaces '
        f'9d5f2cab3511, but branch {DELL} reaches 9d5f2cab3511 through '
        f'099b939261c1, 9d5f2cab3511: write it again with `haas-admin db '
        f'checkpoint {DELL} --revision 9d5f2cab3511`']


def test_db_checkpoint_writes_the_script_where_it_is_told(tmp_path,
                                                          pg_databases):
    pg_databases.new()
    output = tmp_path / 'written.py'

    result = cli(['db', 'checkpoint', DELL, '--release', '0.3',
                  '--postgresql', POSTGRES_URL, '--output', str(output)],
                 config_text('sqlite:///unused.db', LEGACY_EXTENSIONS))

    assert result.exit_code == 0, result.output
    assert result.stdout == f'Wrote {output}\n'
    with open(committed(DELL).path, encoding='utf-8') as f:
        assert output.read_text() == f.read()


@pytest.mark.parametrize('args, error', [
    (['--release', '0.3'], 'a checkpoint must be exact on PostgreSQL too: '
                           'give --postgresql URL, a server to build the '
                           'history on'),
    (['--revision', '6ab9ae569654', '--postgresql', 'postgresql://x/y'],
     f'6ab9ae569654 is no revision of branch {DELL}: see `haas-admin db '
     f'history --extension {DELL}`'),
    (['--postgresql', 'postgresql://x/y'],
     'name the checkpoint\'s point: --release X or --revision R'),
])
def test_db_checkpoint_refuses_in_one_line(args, error):
    result = cli(['db', 'checkpoint', DELL, *args],
                 config_text('sqlite:///unused.db', LEGACY_EXTENSIONS))

    assert error_line(result) == error


def test_insert_rows_leaves_the_serial_sequence_past_the_rows(databases):
    """As the history's inserts would: the next row gets the next id."""
    engine = sa.create_engine(databases.new())
    metadata = sa.MetaData()
    table = sa.Table('seeded', metadata,
                     sa.Column('id', sa.Integer, primary_key=True),
                     sa.Column('name', sa.String, nullable=False))
    with engine.begin() as connection:
        metadata.create_all(connection)
        with Operations.context(MigrationContext.configure(connection)):
            ops.insert_rows('seeded', [{'id': 1, 'name': 'a'},
                                       {'id': 2, 'name': 'b'}])
        connection.execute(table.insert(), [{'name': 'c'}])
        rows = connection.execute(
            sa.select(table).order_by(table.c.id)).all()
    engine.dispose()

    assert rows == [(1, 'a'), (2, 'b'), (3, 'c')]


def test_the_checkpoint_folder_is_not_read_by_alembic():
    """A checkpoint is no revision: the graph, heads and history are the
    scripts' alone."""
    branches = Branches(LEGACY_EXTENSIONS)

    assert not any(os.path.dirname(s.path).endswith(checkpoints.FOLDER)
                   for s in branches.revisions.values())


def test_a_failing_checkpoint_is_said_in_one_line(tmp_path):
    branches = Branches(LEGACY_EXTENSIONS)
    bad = tampered(committed(DELL), tmp_path, 'def upgrade():\n',
                   "def upgrade():\n    op.execute('UPDATE no_such_table "
                   "SET id = 1')\n")

    with make_app('sqlite://', LEGACY_EXTENSIONS).app_context():
        problem, = checkpoints.differences(branches, bad)

    assert problem.startswith(
        f'checkpoint 9d5f2cab3511 of branch {DELL}: checkpoint 9d5f2cab3511 '
        f'of branch {DELL} (2 revisions at once) failed: ')
    assert problem.endswith('(nothing of it was applied; the branch stays '
                            'without tables)')
    assert '\n' not in problem
