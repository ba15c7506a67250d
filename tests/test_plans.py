"""Plans, offline SQL and the per-extension verbs: what would run, in what
order, and what runs when only one branch is asked for.

Every branch here has one script only (its HaaS 0.2 baseline, or the
ledger's), so a plan from nothing is one script per enabled branch: the
ledger's first, then core's.
"""

import json

from haas.migrations import LEDGER

from conftest import (LEGACY_EXTENSIONS, cli, config_text, error_line,
                      make_app, run_admin, snapshot, state_rows, table_names,
                      table_rows)

CORE = 'haas'
OBM = 'haas.ext.obm.mock'
SWITCH = 'haas.ext.switches.mock'

#: Branch -> (its one revision, the first line of its message, its tables).
BASELINES = {
    LEDGER: ('82a6f7041729', 'Create the migration ledger, '
             '`haas_schema_ledger`.', ['haas_schema_ledger']),
    CORE: ('6a8c19565060', 'HaaS 0.2 baseline of core: adopt a '
           'pre-versioning database, or create.',
           ['project', 'obm', 'switch', 'node', 'port', 'nic', 'network',
            'headnode', 'hnic', 'networking_action', 'network_attachment']),
    'haas.ext.obm.ipmi': ('4b9e9d637c6b', 'HaaS 0.2 baseline of the IPMI '
                          'OBM driver: create `ipmi` unless it exists.',
                          ['ipmi']),
    OBM: ('df8d9f423f2b', 'HaaS 0.2 baseline of the mock OBM: adopt '
          '`mockobm`, or create.', ['mock_obm']),
    'haas.ext.switches.dell': ('099b939261c1', 'HaaS 0.2 baseline of the '
                               'Dell PowerConnect 55xx switch driver: adopt '
                               '`powerconnect55xx`, or create.',
                               ['power_connect55xx']),
    'haas.ext.switches.nexus': ('bf72d2ab7e56', 'HaaS 0.2 baseline of the '
                                'Cisco Nexus switch driver: create `nexus` '
                                'unless it exists.', ['nexus']),
    'haas.ext.network_allocators.vlan_pool': (
        '652c395af394', 'HaaS 0.2 baseline of the VLAN pool allocator: '
        'create `vlan`.', ['vlan']),
    SWITCH: ('b5b31d19257d', 'HaaS 0.2 baseline of the mock switch: adopt '
             '`mockswitch`, or create.', ['mock_switch']),
    'haas.ext.auth.database': ('570e90107adc', 'HaaS 0.2 baseline of '
                               'database auth: create `user` and '
                               '`user_projects`.', ['user', 'user_projects']),
}

#: The order an upgrade from nothing runs every branch of
#: LEGACY_EXTENSIONS in: the ledger first, so that it records the rest, then
#: core, as all but the VLAN pool depend on it.
LEGACY_ORDER = [LEDGER, CORE, 'haas.ext.obm.ipmi', OBM,
                'haas.ext.switches.dell', 'haas.ext.switches.nexus',
                'haas.ext.network_allocators.vlan_pool', SWITCH,
                'haas.ext.auth.database']
#: Those of LEGACY_EXTENSIONS whose first script depends on core's.
LEGACY_DEPENDANTS = ['haas.ext.auth.database', SWITCH,
                     'haas.ext.switches.nexus', 'haas.ext.switches.dell', OBM,
                     'haas.ext.obm.ipmi']
BOOKKEEPING = ['alembic_version', 'haas_schema_branch']
#: A PostgreSQL server that is not there: --sql must not need one.
NO_SERVER = 'postgresql://postgres@127.0.0.1:1/haas'


def revision(branch):
    return BASELINES[branch][0]


def described(branch):
    rev, message, _ = BASELINES[branch]
    return f'{rev} ({message})'


def plan_text(action, branches):
    """A plan as `--plan` prints it: action, branch and script, one line
    each, in columns as wide as their widest cell."""
    width = max(len(b) for b in branches)
    return ''.join(f'{action}  {b:<{width}}  {described(b)}\n'
                   for b in branches)


def step(action, branch):
    rev, message, _ = BASELINES[branch]
    return {'action': action, 'branch': branch, 'revision': rev,
            'message': message, 'transactional': True}


def marker(branch):
    """The comment that starts a revision's statements in offline SQL."""
    return f'-- upgrade {branch}: {described(branch)}'


def blocks(sql):
    """The first line of each statement or comment of offline SQL."""
    return [block.strip().splitlines()[0]
            for block in sql.split('\n\n') if block.strip()]


def created_per_revision(sql):
    """[(marker, [tables it creates])] in the order of the SQL; the tables
    created before the first marker come under None."""
    sections = [(None, [])]
    for line in blocks(sql):
        if line.startswith('-- upgrade '):
            sections.append((line, []))
        elif line.startswith('CREATE TABLE '):
            sections[-1][1].append(line.split()[2].strip('"'))
    return sections


# --- upgrade plans ---------------------------------------------------------

def test_upgrade_plan_lists_every_revision_core_first(databases):
    result = cli(['db', 'upgrade', '--plan'],
                 config_text(databases.new(), LEGACY_EXTENSIONS))

    assert (result.exit_code, result.stdout, result.stderr) == (
        0, plan_text('upgrade', LEGACY_ORDER), '')


def test_upgrade_plan_json_is_every_step_as_data(databases):
    result = cli(['db', 'upgrade', '--plan', '--json'],
                 config_text(databases.new(), LEGACY_EXTENSIONS))

    assert json.loads(result.stdout) == {
        'steps': [step('upgrade', b) for b in LEGACY_ORDER], 'findings': [],
        'changed': []}


def test_upgrade_runs_the_scripts_of_its_plan_in_that_order(databases):
    config = config_text(databases.new(), LEGACY_EXTENSIONS)
    plan = json.loads(cli(['db', 'upgrade', '--plan', '--json'],
                          config).stdout)

    result = cli(['db', 'upgrade'], config)

    assert [line.split(' in ')[0] for line in result.stderr.splitlines()] == [
        f'upgraded {s["branch"]} to {s["revision"]} ({s["message"]})'
        for s in plan['steps']]


def test_upgrade_plan_json_is_the_same_bytes_in_every_process(tmp_path):
    """Python orders sets of strings differently in each process (hash
    randomisation): the order must come from the scripts alone."""
    config = config_text(f'sqlite:///{tmp_path / "haas.db"}',
                         LEGACY_EXTENSIONS)
    runs = [run_admin(['db', 'upgrade', '--plan', '--json'], config=config,
                      cwd=tmp_path, env={'PYTHONHASHSEED': seed}).stdout
            for seed in ('1', '2')]

    assert runs[0] == runs[1]
    assert [s['branch'] for s in json.loads(runs[0])['steps']] == \
        LEGACY_ORDER


def test_plans_write_nothing(databases):
    uri = databases.new()
    config = config_text(uri, LEGACY_EXTENSIONS)
    cli(['db', 'upgrade', '--plan'], config)
    assert table_names(uri) == []
    cli(['db', 'upgrade', '--extension', OBM], config)
    app = make_app(uri, LEGACY_EXTENSIONS)
    before = snapshot(app), table_rows(app)

    for args in (['db', 'upgrade', '--plan'],
                 ['db', 'upgrade', '--plan', '--json'],
                 ['db', 'upgrade', '--plan', '--sql'],
                 ['db', 'downgrade', '--plan', '--cascade', f'{CORE}@base']):
        assert cli(args, config).exit_code == 0, args

    assert (snapshot(app), table_rows(app)) == before


# --- one extension ---------------------------------------------------------

def test_upgrade_plan_of_one_extension_lists_core_and_its_branch(databases):
    result = cli(['db', 'upgrade', '--plan', '--extension', OBM],
                 config_text(databases.new(), LEGACY_EXTENSIONS))

    assert result.stdout == plan_text('upgrade', [CORE, OBM])


def test_upgrade_of_one_extension_creates_only_core_and_its_tables(
        databases):
    uri = databases.new()

    cli(['db', 'upgrade', '--extension', OBM],
        config_text(uri, LEGACY_EXTENSIONS))

    assert table_names(uri) == sorted(BOOKKEEPING + BASELINES[CORE][2] +
                                 BASELINES[OBM][2])
    # Core's row is implied by the mock OBM's, which depends on it.
    assert snapshot(make_app(uri, LEGACY_EXTENSIONS))['alembic_version'] == [
        revision(OBM)]


def test_current_of_one_extension_shows_only_its_branch(databases):
    config = config_text(databases.new())
    cli(['db', 'create'], config)

    result = cli(['db', 'current', '--extension', OBM], config)

    assert (result.stdout, result.stderr) == (
        f'{revision(OBM)} ({OBM}) (head)\n', '')


def test_history_of_one_extension_shows_only_its_branch():
    result = cli(['db', 'history', '--extension', OBM],
                 config_text(NO_SERVER, LEGACY_EXTENSIONS))

    assert (result.stdout, result.stderr) == (
        f'<base> ({revision(CORE)}) -> {revision(OBM)} ({OBM}) (head), '
        f'{BASELINES[OBM][1]}\n', '')


# --- downgrades ------------------------------------------------------------

def test_downgrade_plan_of_core_refuses_naming_its_dependants(databases):
    config = config_text(databases.new(), LEGACY_EXTENSIONS)
    cli(['db', 'create'], config)

    result = cli(['db', 'downgrade', '--plan', f'{CORE}@base'], config)

    assert error_line(result) == (
        f'downgrading {CORE} that far would also downgrade '
        f'{", ".join(LEGACY_DEPENDANTS)}, which depend on it: downgrade them '
        f'first, or give --cascade')


def test_cascade_plan_lists_the_dependants_first_then_core(databases):
    config = config_text(databases.new(), LEGACY_EXTENSIONS)
    cli(['db', 'create'], config)

    result = cli(['db', 'downgrade', '--plan', '--cascade', f'{CORE}@base'],
                 config)

    assert result.stdout == plan_text('downgrade', LEGACY_DEPENDANTS + [CORE])


def test_cascade_downgrade_of_core_says_so_and_leaves_only_bookkeeping(
        databases):
    uri = databases.new()
    config = config_text(uri)
    cli(['db', 'create'], config)

    result = cli(['db', 'downgrade', '--cascade', f'{CORE}@base'], config)

    assert [line.split(' in ')[0] for line in result.stderr.splitlines()] == [
        f'Downgrading {SWITCH}, {OBM} first: they depend on {CORE}',
        f'downgraded {SWITCH} from {described(SWITCH)} to base',
        f'downgraded {OBM} from {described(OBM)} to base',
        f'downgraded {CORE} from {described(CORE)} to base',
    ]
    # The ledger's branch depends on no other: it stays, with its record of
    # both commands.
    app = make_app(uri)
    assert state_rows(app) == {
        'alembic_version': [{'version_num': revision(LEDGER)}],
        'haas_schema_branch': [{'branch': LEDGER, 'revision': revision(LEDGER),
                                'requires': '',
                                'tables': 'haas_schema_ledger'}]}
    assert [(r['branch'], r['revision'], r['direction'], r['outcome'])
            for r in table_rows(app)['haas_schema_ledger']] == [
        (b, revision(b), 'create', 'ok') for b in (CORE, LEDGER, SWITCH, OBM)
    ] + [(b, revision(b), 'downgrade', 'ok') for b in (SWITCH, OBM, CORE)]


def test_downgrade_of_one_extension_to_base_drops_only_its_table(databases):
    uri = databases.new()
    config = config_text(uri)
    cli(['db', 'create'], config)
    before = table_names(uri)

    cli(['db', 'downgrade', '--extension', OBM, 'base'], config)

    assert table_names(uri) == [t for t in before if t != 'mock_obm']
    assert cli(['db', 'current'], config).stdout == (
        f'{revision(CORE)} ({CORE}) (head)\n'
        f'{revision(LEDGER)} ({LEDGER}) (head)\n'
        f'{revision(SWITCH)} ({SWITCH}) (head)\n')


def test_relative_downgrade_of_one_extension(databases):
    """`-1` is a revision, as in Alembic's command line, not an option."""
    uri = databases.new()
    config = config_text(uri)
    cli(['db', 'create'], config)

    past_base = cli(['db', 'downgrade', '--extension', OBM, '-2'], config)
    one_down = cli(['db', 'downgrade', '--extension', OBM, '-1'], config)

    assert error_line(past_base) == (
        f'{OBM}@-2 goes below the base of branch {OBM}: it has 1 revision '
        f'applied; {OBM}@base reverts all of them')
    assert one_down.exit_code == 0, one_down.stderr
    assert 'mock_obm' not in table_names(uri)


# --- offline SQL -----------------------------------------------------------

def test_upgrade_sql_is_every_branch_in_order_without_a_server():
    result = cli(['db', 'upgrade', 'heads', '--sql'],
                 config_text(NO_SERVER, LEGACY_EXTENSIONS))
    sql = result.stdout
    lines = blocks(sql)

    assert result.exit_code == 0, result.stderr
    # Each revision in its own transaction, marked, creating its tables.
    assert created_per_revision(sql) == [(None, ['alembic_version'])] + [
        (marker(b), BASELINES[b][2]) for b in LEGACY_ORDER]
    assert (lines.count('BEGIN;'), lines.count('COMMIT;')) == (9, 9)
    inserts = [f"INSERT INTO alembic_version (version_num) VALUES "
               f"('{revision(b)}') RETURNING alembic_version.version_num;"
               for b in LEGACY_ORDER]
    assert [line for line in lines if 'alembic_version' in line] == [
        'CREATE TABLE alembic_version (', *inserts[:2],
        # The IPMI OBM's revision depends on core's: it takes over its row.
        "UPDATE alembic_version SET version_num='4b9e9d637c6b' WHERE "
        "alembic_version.version_num = '6a8c19565060';",
        *inserts[3:]]


def test_upgrade_sql_of_one_extension_is_it_and_core_only():
    result = cli(['db', 'upgrade', '--extension', OBM, '--sql'],
                 config_text(NO_SERVER, LEGACY_EXTENSIONS))
    timeouts = ["SET LOCAL lock_timeout = '10000ms';",
                "SET LOCAL statement_timeout = '3600000ms';"]

    assert blocks(result.stdout) == [
        'BEGIN;', 'CREATE TABLE alembic_version (',
        f'-- Running upgrade  -> {revision(CORE)}', marker(CORE), *timeouts,
        *[f'CREATE TABLE {t} (' for t in BASELINES[CORE][2]],
        f"INSERT INTO alembic_version (version_num) VALUES "
        f"('{revision(CORE)}') RETURNING alembic_version.version_num;",
        'COMMIT;',
        'BEGIN;', f'-- Running upgrade  -> {revision(OBM)}', marker(OBM),
        *timeouts, 'CREATE TABLE mock_obm (',
        f"UPDATE alembic_version SET version_num='{revision(OBM)}' WHERE "
        f"alembic_version.version_num = '{revision(CORE)}';",
        'COMMIT;',
    ]


def test_upgrade_plan_sql_is_only_what_is_pending(databases):
    uri = databases.new()
    config = config_text(uri)
    cli(['db', 'upgrade', '--extension', OBM], config)

    result = cli(['db', 'upgrade', '--plan', '--sql'], config)

    # `upgrade --extension` left the ledger out; `upgrade` runs it first.
    assert created_per_revision(result.stdout) == [
        (None, []), (marker(LEDGER), ['haas_schema_ledger']),
        (marker(SWITCH), ['mock_switch'])]

