"""`db lint`: each rule firing on a revision written for the test, waived
with a reason, and quiet where the table is new or the DDL is safe."""

import json

import pytest

from support.commands import cli, error_line
from support.config import DEFAULT_EXTENSIONS, config_text
from support.example import EXAMPLE_MODULE as MODULE
from support.example import FIRST, SECOND, WIDGET
from support.revisions import CORE_HEAD, write_script

WITH_EXAMPLE = DEFAULT_EXTENSIONS + [MODULE]
#: No server listens there: --since must not connect.
NOWHERE = 'postgresql://haas@127.0.0.1:1/haas'

RULES = {
    'index-not-concurrent': (
        "op.create_index('example_widget_label_idx', 'example_widget', "
        "['label'])", 'CREATE INDEX example_widget_label_idx ON '
                      'example_widget (label)'),
    'not-null-without-default': (
        "op.add_column('example_widget', sa.Column('size', sa.Integer(), "
        "nullable=False))",
        'ALTER TABLE example_widget ADD COLUMN size INTEGER NOT NULL'),
    'type-change-rewrites': (
        "op.alter_column('example_widget', 'id', type_=sa.BigInteger())",
        'ALTER TABLE example_widget ALTER COLUMN id TYPE BIGINT'),
    'constraint-not-valid': (
        "op.create_check_constraint('id', 'example_widget', 'id > 0')",
        'ALTER TABLE example_widget ADD CONSTRAINT example_widget_id_check '
        'CHECK (id > 0)'),
    'breaking-rename-or-drop': (
        "op.drop_column('example_widget', 'label')",
        'ALTER TABLE example_widget DROP COLUMN label'),
    'drop-table': (
        "op.drop_table('example_widget')", 'DROP TABLE example_widget'),
    'volatile-default-rewrites': (
        "op.add_column('example_widget', sa.Column('token', sa.String(), "
        "server_default=sa.text('gen_random_uuid()::text')))",
        'ALTER TABLE example_widget ADD COLUMN token VARCHAR DEFAULT '
        'gen_random_uuid()::text'),
    'set-not-null-without-check': (
        "op.alter_column('example_widget', 'label', nullable=False)",
        'ALTER TABLE example_widget ALTER COLUMN label SET NOT NULL'),
    # The runner sets lock_timeout in every revision, unless the revision
    # turns it off.
    'missing-lock-timeout': (
        "op.alter_column('example_widget', 'label', server_default=None)",
        'ALTER TABLE example_widget ALTER COLUMN label DROP DEFAULT'),
    'python-loop-data-migration': (
        "for id_, in op.get_bind().execute(sa.text('SELECT id FROM "
        "example_widget')):\n        op.execute(f'UPDATE example_widget SET "
        "label = label WHERE id = {id_}')",
        "line 16: for id_, in op.get_bind().execute(sa.text('SELECT id FROM "
        "example_widget')):"),
}


#: What a rule's revision declares besides its upgrade().
ATTRIBUTES = {'missing-lock-timeout': 'lock_timeout = 0'}


def first(folder):
    write_script(folder, FIRST, labels=(MODULE,), depends=CORE_HEAD,
                 upgrade=WIDGET, downgrade="op.drop_table('example_widget')",
                 message='add example_widget')


def scripts(folder, upgrade, attributes=''):
    """The first script, and a second, pending one that runs `upgrade`."""
    first(folder)
    write_script(folder, SECOND, down=FIRST, upgrade=upgrade,
                 message='change widgets', attributes=attributes)


@pytest.fixture
def at_first(databases, example_scripts):
    """A database at the example branch's first revision; the config."""
    config = config_text(databases.new(), WITH_EXAMPLE)
    first(example_scripts)
    assert cli(['db', 'upgrade'], config).exit_code == 0
    return config


@pytest.mark.parametrize('rule', RULES)
def test_each_rule_fires_on_a_pending_revision_and_names_it(
        at_first, example_scripts, rule):
    upgrade, statement = RULES[rule]
    scripts(example_scripts, upgrade, ATTRIBUTES.get(rule, ''))

    result = cli(['db', 'lint'], at_first)
    as_json = cli(['db', 'lint', '--json'], at_first)

    assert result.stdout.splitlines() == [
        f'{MODULE} {SECOND}: {rule}: {linting_rules()[rule]}: {statement}']
    assert error_line(result) == ('1 finding not waived: change the '
                                  'revision, or waive the rule with a reason '
                                  'in lint_waivers')
    assert (as_json.exit_code, json.loads(as_json.stdout)) == (1, {
        'revisions': 1, 'findings': [{
            'branch': MODULE, 'revision': SECOND, 'rule': rule,
            'statement': statement, 'waived': False, 'reason': None}]})


def linting_rules():
    from haas.migrations.linting import RULES as explained
    return explained


@pytest.mark.parametrize('rule', RULES)
def test_a_waived_rule_is_listed_with_its_reason_and_passes(
        at_first, example_scripts, rule):
    upgrade, statement = RULES[rule]
    scripts(example_scripts, upgrade, attributes=(
        f"lint_waivers = {{{rule!r}: 'a few hundred widgets'}}\n"
        + ATTRIBUTES.get(rule, '')))

    result = cli(['db', 'lint'], at_first)
    as_json = cli(['db', 'lint', '--json'], at_first)

    assert (result.exit_code, result.stdout.splitlines()[-1]) == (
        0, 'Nothing unsafe in 1 revision (1 waived).')
    assert json.loads(as_json.stdout)['findings'][0]['reason'] == (
        'a few hundred widgets')


def test_since_reads_only_the_new_scripts_without_a_database(example_scripts):
    upgrade, statement = RULES['not-null-without-default']
    scripts(example_scripts, upgrade)
    config = config_text(NOWHERE, WITH_EXAMPLE)

    result = cli(['db', 'lint', '--since', FIRST, '--extension', MODULE,
                  '--json'], config)

    assert result.exit_code == 1, result.stderr
    assert [(f['revision'], f['rule'])
            for f in json.loads(result.stdout)['findings']] == [
        (SECOND, 'not-null-without-default')]


@pytest.mark.parametrize('upgrade', [
    # A table the same run creates is empty: nothing to lock.
    "op.create_table('example_gadget', sa.Column('id', sa.Integer(), "
    "nullable=False), sa.PrimaryKeyConstraint('id'))\n    "
    "op.create_index('example_gadget_id_idx', 'example_gadget', ['id'])",
    # Safe forms on the existing table.
    "op.add_column('example_widget', sa.Column('size', sa.Integer(), "
    "nullable=False, server_default='0'))",
    "op.add_column('example_widget', sa.Column('note', sa.String()))",
    "op.execute('ALTER TABLE example_widget ADD CONSTRAINT "
    "example_widget_id_check CHECK (id > 0) NOT VALID')",
    # A table the database does not have holds no rows.
    "op.execute('DROP TABLE IF EXISTS example_retired')",
])
def test_safe_changes_and_new_tables_pass(at_first, example_scripts,
                                          upgrade):
    scripts(example_scripts, upgrade)

    result = cli(['db', 'lint'], at_first)

    assert (result.exit_code, result.stdout) == (
        0, 'Nothing unsafe in 1 revision.\n'), result.stderr


def test_a_waiver_of_no_rule_or_without_a_reason_is_a_one_line_error(
        at_first, example_scripts):
    scripts(example_scripts, 'pass', attributes="lint_waivers = {'x': 'y'}")
    unknown = cli(['db', 'lint'], at_first)
    scripts(example_scripts, 'pass', attributes=(
        "lint_waivers = {'index-not-concurrent': ''}"))
    empty = cli(['db', 'lint'], at_first)

    assert error_line(unknown).startswith(
        f"revision {SECOND} waives 'x', which is no rule (rules: ")
    assert error_line(empty) == (f'revision {SECOND} waives '
                                 f'index-not-concurrent without a reason')


@pytest.mark.parametrize('since', ['base', f'{MODULE}@base'])
def test_since_base_reads_a_new_branch_from_its_first_script(
        example_scripts, since):
    # Its tables are new in such a run: only what is wrong whatever the
    # table's size is found, a loop over rows say.
    upgrade, statement = RULES['python-loop-data-migration']
    scripts(example_scripts, upgrade)
    config = config_text(NOWHERE, WITH_EXAMPLE)

    result = cli(['db', 'lint', '--since', since, '--extension', MODULE,
                  '--json'], config)

    assert json.loads(result.stdout) == {'revisions': 2, 'findings': [{
        'branch': MODULE, 'revision': SECOND,
        'rule': 'python-loop-data-migration', 'statement': statement,
        'waived': False, 'reason': None}]}


def test_since_base_needs_the_branch_it_reads():
    result = cli(['db', 'lint', '--since', 'base'], config_text(NOWHERE))

    assert error_line(result) == ('--since base needs --extension MODULE: '
                                  'the branch to read from its start')


@pytest.fixture
def pg_at_first(pg_databases, example_scripts):
    """A PostgreSQL database at the example branch's first revision."""
    config = config_text(pg_databases.new(), WITH_EXAMPLE)
    first(example_scripts)
    assert cli(['db', 'upgrade'], config).exit_code == 0
    return config


def rules_found(config, *options):
    result = cli(['db', 'lint', '--json', *options], config)
    return [f['rule'] for f in json.loads(result.stdout)['findings']]


@pytest.mark.parametrize('upgrade, rules', [
    # varchar to text, or to a longer varchar, keeps every value as it is.
    ("op.alter_column('example_widget', 'label', type_=sa.Text())", []),
    ("op.add_column('example_widget', sa.Column('code', sa.String(20)))\n"
     "    op.alter_column('example_widget', 'code', type_=sa.String(40))",
     []),
    ("op.add_column('example_widget', sa.Column('code', sa.String(40)))\n"
     "    op.alter_column('example_widget', 'code', type_=sa.String(20))",
     ['type-change-rewrites']),
    ("op.alter_column('example_widget', 'id', type_=sa.BigInteger())",
     ['type-change-rewrites']),
])
def test_a_type_change_is_flagged_only_where_it_rewrites(
        pg_at_first, example_scripts, upgrade, rules):
    scripts(example_scripts, upgrade)

    assert rules_found(pg_at_first) == rules


NOW = ("op.add_column('example_widget', sa.Column('seen', sa.DateTime(), "
       "server_default=sa.text('now()')))")
CHECKED = ("op.execute('ALTER TABLE example_widget ADD CONSTRAINT label_set "
           "CHECK (label IS NOT NULL) NOT VALID')\n"
           "    op.execute('ALTER TABLE example_widget VALIDATE CONSTRAINT "
           "label_set')\n"
           "    op.alter_column('example_widget', 'label', nullable=False)")


@pytest.mark.parametrize('upgrade, version, rules', [
    # now() is stable: from PostgreSQL 11 the column is filled without a
    # rewrite; before, any default rewrites.
    (NOW, [], []),
    (NOW, ['--postgresql-version', '10'], ['volatile-default-rewrites']),
    # A validated check spares SET NOT NULL its scan from PostgreSQL 12.
    (CHECKED, [], []),
    (CHECKED, ['--postgresql-version', '11.9'],
     ['set-not-null-without-check']),
])
def test_what_depends_on_the_version_is_judged_for_the_server_or_the_option(
        pg_at_first, example_scripts, upgrade, version, rules):
    scripts(example_scripts, upgrade)

    assert rules_found(pg_at_first, *version) == rules


def test_raw_sql_in_any_layout_is_read_statement_by_statement(
        at_first, example_scripts):
    scripts(example_scripts, (
        'op.execute("""/* two at once */ alter   TABLE\n'
        '        Example_Widget -- the widgets\n'
        '        add column size integer NOT null;'
        ' create index w_idx on EXAMPLE_WIDGET (label)""")'))

    assert rules_found(at_first) == ['not-null-without-default',
                                     'index-not-concurrent']


def test_a_version_that_is_none_is_a_one_line_error(at_first):
    result = cli(['db', 'lint', '--postgresql-version', 'fifteen'], at_first)

    assert error_line(result) == ("--postgresql-version 'fifteen' is not a "
                                  "PostgreSQL version (such as 12 or 15.4)")


@pytest.mark.parametrize('upgrade, attributes, rules', [
    # The runner's lock_timeout, reset by the script's own SQL.
    ('op.execute("reset LOCK_TIMEOUT; ALTER TABLE example_widget ALTER '
     'COLUMN label DROP DEFAULT")', '', ['missing-lock-timeout']),
    # Turned off for the revision, and set again by its SQL before the lock.
    ('op.execute("SET LOCAL lock_timeout = \'2s\'; ALTER TABLE '
     'example_widget ALTER COLUMN label DROP DEFAULT")', 'lock_timeout = 0',
     []),
])
def test_lock_timeout_is_followed_through_the_revision_s_statements(
        at_first, example_scripts, upgrade, attributes, rules):
    scripts(example_scripts, upgrade, attributes)

    assert rules_found(at_first) == rules
