"""`db check` on broken histories, drifted models and databases that are not
at the code's heads; and the one line every other command gives for them.

The broken histories are real scripts, written by hand for the example
extension's branch.  The example is imported in this process once (its
model then stays in the models, owned by a branch no other test enables);
each test points its branch at a scratch folder of its own.
"""


import pytest
import sqlalchemy as sa

from haas.migrations import LEDGER
from haas.model import db

from support.commands import cli, error_line
from support.config import DEFAULT_EXTENSIONS, config_text
from support.databases import table_names
from support.revisions import (
    CORE_HEAD,
    CORE_REVISIONS,
    DEPENDED_ON,
    write_script,
)

MODULE = 'haas_example_ext'
LEDGER_HEAD = '82a6f7041729'
OBM = 'haas.ext.obm.mock'
OBM_HEAD = 'bf6ad6510a60'
DELL = 'haas.ext.switches.dell'
DELL_HEAD = 'e9c7556cca0f'
FIRST, SECOND, THIRD, FOURTH = 'a1' * 6, 'b2' * 6, 'c3' * 6, 'd4' * 6
NEWER = 'f' * 12

#: The example's table as its model has it: project_id takes the type of
#: project.id, a 64-bit key since core's 3c2af72d0b46.
WIDGET_COLUMNS = [
    "sa.Column('id', sa.Integer(), nullable=False)",
    "sa.Column('label', sa.String(), nullable=False)",
    "sa.Column('project_id', sa.BigInteger().with_variant(sa.Integer(), "
    "'sqlite'), nullable=False)",
    "sa.ForeignKeyConstraint(['project_id'], ['project.id'], "
    "name='example_widget_project_id_fkey')",
    "sa.PrimaryKeyConstraint('id', name='example_widget_pkey')",
]


def create_widget(columns=WIDGET_COLUMNS):
    return f"op.create_table('example_widget', {', '.join(columns)})"


NO_PROBLEMS = ('No problems: the scripts form one line per branch, the '
               'models match them, and the database is at every head.')


class Scripts:
    """The example branch's scripts folder, for this test only."""

    def __init__(self, folder):
        self.folder = folder

    def write(self, revision, down=None, labels=(), depends=None,
              upgrade='pass'):
        write_script(self.folder, revision, down, labels, depends, upgrade)

    def first(self, upgrade=None):
        """The branch's first script, as `db migrate` would write it."""
        self.write(FIRST, labels=(MODULE,), depends=CORE_HEAD,
                   upgrade=upgrade or create_widget())


@pytest.fixture
def scripts(example_scripts):
    return Scripts(example_scripts)


def example_config(uri):
    return config_text(uri, DEFAULT_EXTENSIONS + [MODULE])


def check(config):
    """`db check`'s exit status and its problem lines."""
    result = cli(['db', 'check'], config)
    if result.exit_code == 0:
        assert result.stdout == NO_PROBLEMS + '\n'
        return 0, []
    lines = result.stdout.splitlines()
    count = len(lines)
    assert result.stderr == (f'Error: {count} problem'
                             f'{"s" if count > 1 else ""} found\n')
    return result.exit_code, lines


def execute(uri, *statements):
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


# --- the history the scripts form ------------------------------------------

TWO_HEADS = (f'branch {MODULE} has 2 heads ({SECOND}, {THIRD}): its history '
             f'forked; give one of them the other as down_revision, or merge '
             f'them with `haas-admin db merge`')


def two_heads(scripts):
    scripts.first()
    scripts.write(SECOND, down=FIRST)
    scripts.write(THIRD, down=FIRST)


def test_check_lists_two_heads_in_a_branch(databases, scripts):
    two_heads(scripts)

    # Said once: the fork is what the two heads are.
    assert check(example_config(databases.new())) == (1, [
        f'branch {MODULE} has 2 heads ({SECOND}, {THIRD})',
    ])


def test_two_heads_stop_every_command_in_one_line_naming_them(databases,
                                                             scripts):
    """Not taken for a branch without scripts: nothing is created, and
    the servers do not start.  (`serve` is given an address it cannot
    listen on, so that a check that let it through fails, not hangs.)"""
    two_heads(scripts)
    uri = databases.new()
    config = example_config(uri)
    commands = [['db', 'create'], ['db', 'upgrade'], ['db', 'status'],
                ['serve', '--host', '256.0.0.1'], ['serve-networks']]

    lines = [(args, error_line(cli(args, config))) for args in commands]

    assert lines == [(args, TWO_HEADS) for args in commands]
    assert table_names(uri) == []


def test_check_lists_a_merge_inside_a_branch(databases, scripts):
    scripts.first()
    scripts.write(SECOND, down=FIRST)
    scripts.write(THIRD, down=FIRST)
    scripts.write(FOURTH, down=(SECOND, THIRD))
    config = example_config(databases.new())
    cli(['db', 'create'], config)

    assert check(config) == (1, [
        f'branch {MODULE} forks at {FIRST} into {SECOND}, {THIRD}',
        f'branch {MODULE}: {FOURTH} merges {SECOND}, {THIRD}; a branch is '
        f'one line',
    ])


@pytest.mark.parametrize('broken, message', [
    ('dangling depends_on',
     f'revision {FIRST} names {NEWER} as its down_revision or depends_on, '
     f'and no script has it'),
    ('cycle of down_revisions',
     f'Cycle is detected in revisions ({FIRST}, {SECOND})'),
    ('cycle through depends_on',
     # Alembic names the core revisions past DEPENDED_ON too, up to the
     # head the example depends on, all in the order of their ids.
     'Dependency cycle is detected in revisions (' + ', '.join(sorted([
         FIRST, SECOND,
         *CORE_REVISIONS[CORE_REVISIONS.index(DEPENDED_ON) + 1:]])) + ')'),
])
def test_unreadable_history_is_one_line_for_check_and_every_command(
        databases, scripts, broken, message):
    if broken == 'dangling depends_on':
        scripts.write(FIRST, labels=(MODULE,), depends=NEWER,
                      upgrade=create_widget())
    elif broken == 'cycle of down_revisions':
        scripts.write(FIRST, down=SECOND, labels=(MODULE,), depends=CORE_HEAD)
        scripts.write(SECOND, down=FIRST)
    else:
        scripts.write(FIRST, labels=(MODULE,), depends=(CORE_HEAD, SECOND))
        scripts.write(SECOND, down=FIRST)
    line = f'the migration scripts do not form a history: {message}'
    config = example_config(databases.new())
    commands = [['db', 'create'], ['db', 'upgrade'], ['db', 'status'],
                ['serve-networks']]

    assert check(config) == (1, [line])
    assert [(args, error_line(cli(args, config))) for args in commands] == [
        (args, line) for args in commands]


def test_check_lists_branch_labels_on_a_later_revision(databases, scripts):
    scripts.first()
    scripts.write(SECOND, down=FIRST, labels=('widgets',))
    config = example_config(databases.new())
    cli(['db', 'create'], config)

    assert check(config) == (1, [
        f"branch {MODULE}: {SECOND} sets branch_labels ['widgets']; only a "
        f"branch's first revision does"])


def test_check_lists_a_first_revision_without_its_label(databases, scripts):
    scripts.write(FIRST, depends=CORE_HEAD, upgrade=create_widget())
    scripts.write(SECOND, down=FIRST, labels=(MODULE,))
    config = example_config(databases.new())
    cli(['db', 'create'], config)

    assert check(config) == (1, [
        f"branch {MODULE}: its first revision {FIRST} must carry "
        f"branch_labels = ('{MODULE}',)",
        f"branch {MODULE}: {SECOND} sets branch_labels ['{MODULE}']; only a "
        f"branch's first revision does",
    ])


# --- models and scripts ----------------------------------------------------

def test_check_lists_each_model_change_without_its_script(databases,
                                                          scripts):
    """The scripts lack `label`, keep a `colour` the model dropped and
    leave `project_id` nullable: three operations in words."""
    scripts.first(upgrade=create_widget([
        "sa.Column('id', sa.Integer(), nullable=False)",
        "sa.Column('colour', sa.String(), nullable=True)",
        "sa.Column('project_id', sa.Integer(), nullable=True)",
        "sa.ForeignKeyConstraint(['project_id'], ['project.id'], "
        "name='example_widget_project_id_fkey')",
        "sa.PrimaryKeyConstraint('id', name='example_widget_pkey')",
    ]))
    config = example_config(databases.new())
    cli(['db', 'upgrade'], config)

    assert check(config) == (1, [
        f'branch {MODULE}: models and scripts differ: add column '
        f'example_widget.label (VARCHAR, NOT NULL)',
        f'branch {MODULE}: models and scripts differ: change nullable of '
        f'example_widget.project_id from nullable to NOT NULL',
        f'branch {MODULE}: models and scripts differ: drop column '
        f'example_widget.colour',
    ])


@pytest.fixture
def note_model(example_module):
    """A table the example extension's models gain, with no script."""
    table = sa.Table('example_note', db.metadata,
                     sa.Column('id', sa.Integer, primary_key=True),
                     sa.Column('text', sa.String, nullable=True),
                     info={'module': MODULE})
    yield table
    db.metadata.remove(table)


def test_check_lists_a_new_model_without_its_script(databases, scripts,
                                                    note_model):
    scripts.first()
    config = example_config(databases.new())
    cli(['db', 'upgrade'], config)

    assert check(config) == (1, [
        f'branch {MODULE}: models and scripts differ: add table example_note',
    ])


def test_check_passes_once_the_scripts_match_the_models(databases, scripts):
    scripts.first()
    config = example_config(databases.new())
    cli(['db', 'upgrade'], config)

    assert check(config) == (0, [])


# --- the database against the code's heads ---------------------------------

def test_check_gives_the_advice_status_gives_for_a_branch_behind(databases,
                                                                 scripts):
    scripts.first()
    scripts.write(SECOND, down=FIRST)
    config = example_config(databases.new())
    cli(['db', 'upgrade', f'{MODULE}@{FIRST}'], config)
    advice = (f'branch {MODULE} is at {FIRST}, behind its head {SECOND} (1 '
              f'revision to run): run `haas-admin db upgrade heads`')

    status = cli(['db', 'status'], config)

    assert status.stdout.splitlines()[-1] == f'Next: {advice}'
    assert check(config) == (1, [f'database: {advice}'])


UNKNOWN_OF_OBM = (
    f'branch {OBM} is at revision {NEWER}, which its scripts do not have: a '
    f'newer release of {OBM} wrote it; install that release, or restore the '
    f'backup taken before that upgrade')


def at_newer_obm_revision(uri):
    """The mock OBM's row and label moved to a revision no script has, as
    a newer release's upgrade leaves them."""
    cli(['db', 'create'], config_text(uri))
    execute(uri,
            f"UPDATE alembic_version SET version_num = '{NEWER}' "
            f"WHERE version_num = '{OBM_HEAD}'",
            f"UPDATE haas_schema_branch SET revision = '{NEWER}' "
            f"WHERE branch = '{OBM}'")


def test_unknown_revision_of_a_branch_names_the_branch_and_the_fix(
        databases):
    uri = databases.new()
    at_newer_obm_revision(uri)
    config = config_text(uri)

    assert check(config) == (1, [f'database: {UNKNOWN_OF_OBM}'])
    assert [error_line(cli(args, config)) for args in (
        ['db', 'upgrade'], ['db', 'upgrade', '--plan'], ['db', 'create'],
        ['serve-networks'])] == [UNKNOWN_OF_OBM] * 4


def test_unknown_revision_keeps_its_branch_name_through_other_writes(
        databases):
    """Downgrading another branch rewrites the labels; the one that names
    the newer revision's branch stays."""
    uri = databases.new()
    at_newer_obm_revision(uri)
    config = config_text(uri)

    cli(['db', 'downgrade', 'haas.ext.switches.mock@base'], config)

    assert check(config) == (1, [f'database: {UNKNOWN_OF_OBM}'])
    assert cli(['db', 'current'], config).stdout == (
        f'{CORE_HEAD} (haas) (head)\n{LEDGER_HEAD} ({LEDGER}) (head)\n'
        f'{NEWER} ({OBM}) (unknown revision)\n')


def test_unknown_revision_of_no_branch_names_it_and_forget(databases):
    uri = databases.new()
    cli(['db', 'create'], config_text(uri))
    execute(uri, f"INSERT INTO alembic_version VALUES ('{NEWER}')")
    message = (f'the database is stamped at revision {NEWER}, which no '
               f'installed branch provides: install the HaaS release or the '
               f'extension that wrote it, or run `haas-admin db forget '
               f'{NEWER}` if you know it is gone for good')
    config = config_text(uri)

    assert check(config) == (1, [f'database: {message}'])
    assert error_line(cli(['db', 'upgrade'], config)) == message


def test_check_names_a_disabled_extension_and_the_fix(databases):
    uri = databases.new()
    cli(['db', 'create'], config_text(uri, DEFAULT_EXTENSIONS + [DELL]))

    assert check(config_text(uri)) == (1, [
        f'database: branch {DELL} is orphaned at {DELL_HEAD}: its extension '
        f'is not enabled in [extensions]; enable it again, or run '
        f'`haas-admin db forget {DELL}` (--drop-tables to drop its tables '
        f'too)'])


def test_check_names_an_uninstalled_extension_and_the_fix(databases):
    """A label whose module is not installed and whose revision no
    installed script has: what an uninstalled extension leaves."""
    uri = databases.new()
    cli(['db', 'create'], config_text(uri, DEFAULT_EXTENSIONS + [DELL]))
    gone = 'haas_gone_ext'
    execute(uri,
            f"UPDATE alembic_version SET version_num = '{NEWER}' "
            f"WHERE version_num = '{DELL_HEAD}'",
            f"UPDATE haas_schema_branch SET branch = '{gone}', "
            f"revision = '{NEWER}' WHERE branch = '{DELL}'")

    assert check(config_text(uri)) == (1, [
        f'database: branch {gone} is orphaned at {NEWER}: its extension is '
        f'not installed; enable it again, or run `haas-admin db forget '
        f'{gone}` (--drop-tables to drop its tables too)'])
