"""Plans, offline SQL and the per-extension verbs: what would run, in what
order, and what runs when only one branch is asked for.

Core has HaaS 0.2's baseline, HaaS 0.3's seven revisions, and those made
since; each extension its baseline and a 0.3 revision that widens its
keys, which depends on core's sixth 0.3 revision (DEPENDED_ON); the ledger
one script.  A plan from nothing runs the ledger's first, then core's
through DEPENDED_ON, then each extension's, then core's later ones, on
which no extension of LEGACY_EXTENSIONS depends.
"""

import json
import re

from haas.migrations import LEDGER

from support.commands import cli, error_line, run_admin
from support.config import LEGACY_EXTENSIONS, config_text
from support.databases import (
    make_app,
    snapshot,
    state_rows,
    table_names,
    table_rows,
)
from support.revisions import (
    CORE,
    DEPENDED_ON,
    LATER,
    OBM,
    SCRIPTS,
    SWITCH,
    TO_DEPENDED,
    VLAN,
    described,
    upgrades,
)

#: The order an upgrade from nothing runs every branch of
#: LEGACY_EXTENSIONS in: the ledger first, so that it records the rest, then
#: core, as every extension's 0.3 revision depends on DEPENDED_ON.
LEGACY_ORDER = [LEDGER, CORE, 'haas.ext.obm.ipmi', OBM,
                'haas.ext.switches.dell', 'haas.ext.switches.nexus', SWITCH,
                VLAN, 'haas.ext.auth.database']
#: Those of LEGACY_EXTENSIONS with a script that depends on core's: all of
#: them, the VLAN pool by its 0.3 revision only.
LEGACY_DEPENDANTS = ['haas.ext.auth.database', VLAN, SWITCH,
                     'haas.ext.switches.nexus', 'haas.ext.switches.dell', OBM,
                     'haas.ext.obm.ipmi']
BOOKKEEPING = ['alembic_version', 'haas_schema_branch']
#: A PostgreSQL server that is not there: --sql must not need one.
NO_SERVER = 'postgresql://postgres@127.0.0.1:1/haas'


def revision(branch):
    """The branch's head."""
    return SCRIPTS[branch][-1][0]


def tables(branch):
    """Every table the branch's scripts create."""
    return [t for _, _, created in SCRIPTS[branch] for t in created]


def reverts(*branches):
    """(branch, script) of a cascade downgrade of core to base: core's
    after DEPENDED_ON first, then each branch's scripts from its first that
    depends on core, last first."""
    later = [(CORE, script) for script in reversed(LATER)
             if CORE in branches]
    return later + [(b, script) for b in branches
                    for script in reversed(SCRIPTS[b][1 if b == VLAN else 0:])
                    if (b, script) not in later]


def below(branch, script):
    """What a downgrade of `script` leaves its branch at."""
    index = SCRIPTS[branch].index(script)
    return SCRIPTS[branch][index - 1][0] if index else 'base'


#: The scripts that run outside a transaction (`transactional = False`):
#: core's contract backfill, each of whose batches commits.
NOT_TRANSACTIONAL = {'e0635646ea80'}


def plan_text(action, steps):
    """A plan as `--plan` prints it: action, branch and script, one line
    each, in columns as wide as their widest cell."""
    width = max(len(b) for b, _ in steps)
    return ''.join(f'{action}  {b:<{width}}  {described(s)}'
                   f'{" [not transactional]" * (s[0] in NOT_TRANSACTIONAL)}\n'
                   for b, s in steps)


def step(action, branch, script):
    rev, message, _ = script
    return {'action': action, 'branch': branch, 'revision': rev,
            'message': message, 'transactional': rev not in NOT_TRANSACTIONAL}


def marker(branch, script):
    """The comment that starts a revision's statements in offline SQL."""
    return f'-- upgrade {branch}: {described(script)}'


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


def version_rows(sql):
    """[(marker, the rows of alembic_version after that revision)] in the
    order of the SQL.  Where a revision joins two rows into one, Alembic
    picks which to update and which to delete by the order of a set, which
    changes from process to process: the rows it leaves do not."""
    rows, after = set(), []
    for line in blocks(sql):
        if line.startswith('-- upgrade '):
            after.append((line, None))
        elif m := re.match(r"INSERT INTO alembic_version .* VALUES "
                           r"\('(\w+)'\)", line):
            rows.add(m[1])
        elif m := re.match(r"UPDATE alembic_version SET version_num='(\w+)' "
                           r"WHERE alembic_version.version_num = '(\w+)';",
                           line):
            rows.remove(m[2])
            rows.add(m[1])
        elif m := re.match(r"DELETE FROM alembic_version WHERE "
                           r"alembic_version.version_num = '(\w+)';", line):
            rows.remove(m[1])
        else:
            continue
        after[-1] = (after[-1][0], sorted(rows))
    return after


def without_time(stderr):
    """The lines of a command's progress, without the time each took."""
    return [re.sub(r' in [0-9.]+ s$', '', line)
            for line in stderr.splitlines()]


# --- upgrade plans ---------------------------------------------------------
# Every revision, from nothing: without the checkpoints, which
# tests/test_checkpoints.py plans.

def test_upgrade_plan_lists_every_revision_core_first(databases):
    result = cli(['db', 'upgrade', '--no-checkpoints', '--plan'],
                 config_text(databases.new(), LEGACY_EXTENSIONS))

    assert (result.exit_code, result.stdout, result.stderr) == (
        0, plan_text('upgrade', upgrades(*LEGACY_ORDER)), '')


def test_upgrade_plan_json_is_every_step_as_data(databases):
    result = cli(['db', 'upgrade', '--no-checkpoints', '--plan', '--json'],
                 config_text(databases.new(), LEGACY_EXTENSIONS))

    assert json.loads(result.stdout) == {
        'steps': [step('upgrade', b, s) for b, s in upgrades(*LEGACY_ORDER)],
        'findings': [], 'changed': []}


def test_upgrade_runs_the_scripts_of_its_plan_in_that_order(databases):
    config = config_text(databases.new(), LEGACY_EXTENSIONS)
    plan = json.loads(cli(['db', 'upgrade', '--no-checkpoints', '--plan',
                           '--json'], config).stdout)

    result = cli(['db', 'upgrade', '--no-checkpoints'], config)

    assert without_time(result.stderr) == [
        f'upgraded {s["branch"]} to {s["revision"]} ({s["message"]})'
        for s in plan['steps']]


def test_upgrade_plan_json_is_the_same_bytes_in_every_process(tmp_path):
    """Python orders sets of strings differently in each process (hash
    randomisation): the order must come from the scripts alone."""
    config = config_text(f'sqlite:///{tmp_path / "haas.db"}',
                         LEGACY_EXTENSIONS)
    runs = [run_admin(['db', 'upgrade', '--no-checkpoints', '--plan',
                       '--json'], config=config, cwd=tmp_path,
                      env={'PYTHONHASHSEED': seed}).stdout
            for seed in ('1', '2')]

    assert runs[0] == runs[1]
    assert [(s['branch'], s['revision'])
            for s in json.loads(runs[0])['steps']] == [
        (b, s[0]) for b, s in upgrades(*LEGACY_ORDER)]


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
        result = cli(args, config)
        if '--sql' in args and uri.startswith('sqlite'):
            # A revision that rebuilds a SQLite table must read it, which
            # SQL written without running cannot: one line says so.
            assert result.exit_code == 1 and 'cannot proceed in --sql ' \
                'mode' in error_line(result), result.output
            continue
        assert result.exit_code == 0, args

    assert (snapshot(app), table_rows(app)) == before


# --- one extension ---------------------------------------------------------

def test_upgrade_plan_of_one_extension_lists_core_and_its_branch(databases):
    result = cli(['db', 'upgrade', '--no-checkpoints', '--plan',
                  '--extension', OBM],
                 config_text(databases.new(), LEGACY_EXTENSIONS))

    # Core only as far as the extension needs: to DEPENDED_ON.
    assert result.stdout == plan_text('upgrade', [
        (b, s) for b, s in upgrades(CORE, OBM) if s not in LATER])


def test_upgrade_of_one_extension_creates_only_core_and_its_tables(
        databases):
    uri = databases.new()

    cli(['db', 'upgrade', '--extension', OBM],
        config_text(uri, LEGACY_EXTENSIONS))

    # Core as far as the mock OBM needs: DEPENDED_ON.
    assert table_names(uri) == sorted(
        BOOKKEEPING + [t for _, _, created in TO_DEPENDED for t in created]
        + tables(OBM))
    # Core's row is implied by the mock OBM's, whose head depends on it.
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

    (baseline, first), (head, second), *later = [
        s[:2] for s in SCRIPTS[OBM]]
    # Newest first: those after its 0.3 revision, each on the one before.
    lines = [f'{down} -> {revision} ({OBM}), {message}\n'
             for (down, _), (revision, message) in zip(
                 [(head, second)] + later[:-1], later)][::-1]
    if lines:
        lines[0] = lines[0].replace(f' ({OBM}), ', f' ({OBM}) (head), ')
    assert (result.stdout, result.stderr) == (''.join(lines) + (
        f'{baseline} ({DEPENDED_ON}) -> {head} ({OBM})'
        f'{"" if later else " (head)"}, {second}\n'
        f'<base> ({SCRIPTS[CORE][0][0]}) -> {baseline} ({OBM}), {first}\n'),
        '')


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

    assert result.stdout == plan_text('downgrade',
                                      reverts(*LEGACY_DEPENDANTS, CORE))


def test_cascade_downgrade_of_core_says_so_and_leaves_only_bookkeeping(
        databases):
    uri = databases.new()
    config = config_text(uri)
    cli(['db', 'create'], config)

    result = cli(['db', 'downgrade', '--cascade', f'{CORE}@base'], config)

    steps = reverts(SWITCH, OBM, CORE)
    assert without_time(result.stderr) == [
        f'Downgrading {SWITCH}, {OBM} first: they depend on {CORE}',
        *[f'downgraded {b} from {described(s)} to {below(b, s)}'
          for b, s in steps],
        f'Warning: branch {CORE} is at base now, without its tables: the '
        f'servers refuse to start until `haas-admin db create` makes them '
        f'again',
        *[f'Warning: branch {b} is at base now, without its tables, and its '
          f'extension is still enabled: the servers refuse to start until '
          f'`haas-admin db create` makes them again, or until it is taken '
          f'out of [extensions] to retire it' for b in (SWITCH, OBM)]]
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
    ] + [(b, s[0], 'downgrade', 'ok') for b, s in steps]


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

    applied = len(SCRIPTS[OBM])
    past_base = cli(['db', 'downgrade', '--extension', OBM,
                     f'-{applied + 1}'], config)
    one_down = cli(['db', 'downgrade', '--extension', OBM,
                    f'-{applied - 1}'], config)
    at_baseline = cli(['db', 'current', '--extension', OBM], config).stdout
    tables_then = table_names(uri)
    to_base = cli(['db', 'downgrade', '--extension', OBM, '-1'], config)

    assert error_line(past_base) == (
        f'{OBM}@-{applied + 1} goes below the base of branch {OBM}: it has '
        f'{applied} revisions applied; {OBM}@base reverts all of them')
    assert (one_down.exit_code, to_base.exit_code) == (0, 0), (
        one_down.stderr, to_base.stderr)
    assert at_baseline == (f'{SCRIPTS[OBM][0][0]} ({OBM}) (behind its head '
                           f'{revision(OBM)}: {applied - 1} to run)\n')
    assert 'mock_obm' in tables_then and 'mock_obm' not in table_names(uri)


# --- offline SQL -----------------------------------------------------------

def test_upgrade_sql_is_every_branch_in_order_without_a_server():
    result = cli(['db', 'upgrade', 'heads', '--sql', '--no-checkpoints'],
                 config_text(NO_SERVER, LEGACY_EXTENSIONS))
    sql = result.stdout
    lines = blocks(sql)

    assert result.exit_code == 0, result.stderr
    # Each revision in its own transaction, marked, creating its tables.
    steps = upgrades(*LEGACY_ORDER)
    assert created_per_revision(sql) == [(None, ['alembic_version'])] + [
        (marker(b, s), s[2]) for b, s in steps]
    # A revision outside a transaction ends the one before it, and begins
    # one for its version row after it.
    outside = sum(s[0] in NOT_TRANSACTIONAL for _, s in steps)
    assert (lines.count('BEGIN;'), lines.count('COMMIT;')) == (
        len(steps) + outside, len(steps) + outside)
    ledger, (ipmi, *others) = revision(LEDGER), LEGACY_ORDER[2:]
    expected = [(marker(LEDGER, SCRIPTS[LEDGER][0]), [ledger])] + [
        (marker(CORE, s), sorted([ledger, s[0]])) for s in TO_DEPENDED]
    # An extension's baseline depends on core's baseline, which core's row
    # implies: the first gets a row of its own beside core's.  Its head
    # depends on core's head: it takes over both rows.
    (baseline, _, _), (head, _, _), *later = SCRIPTS[ipmi]
    expected += [(marker(ipmi, SCRIPTS[ipmi][0]),
                  sorted([ledger, DEPENDED_ON, baseline])),
                 (marker(ipmi, SCRIPTS[ipmi][1]), sorted([ledger, head]))]
    expected += [(marker(ipmi, s), sorted([ledger, s[0]])) for s in later]
    # Every later baseline gets a row, which its head then moves on.
    done = [revision(ipmi)]
    for b in others:
        for script in SCRIPTS[b]:
            expected.append((marker(b, script),
                             sorted([ledger, *done, script[0]])))
        done.append(revision(b))
    # Core's after DEPENDED_ON come last, beside the heads that imply it.
    expected += [(marker(CORE, s), sorted([ledger, *done, s[0]]))
                 for s in LATER]
    assert version_rows(sql) == expected


def skeleton(sql):
    """The lines of offline SQL that frame each revision: its transaction,
    its markers and timeouts and the tables it creates (version_rows reads
    its version row).  What a revision does besides is its script's own
    business."""
    frame = ('BEGIN;', 'COMMIT;', '-- Running upgrade ', '-- upgrade ',
             'SET LOCAL ', 'CREATE TABLE ')
    return [line for line in blocks(sql) if line.startswith(frame)]


def test_upgrade_sql_of_one_extension_is_it_and_core_only():
    result = cli(['db', 'upgrade', '--extension', OBM, '--sql',
                  '--no-checkpoints'],
                 config_text(NO_SERVER, LEGACY_EXTENSIONS))
    timeouts = ["SET LOCAL lock_timeout = '10000ms';",
                "SET LOCAL statement_timeout = '3600000ms';"]
    (baseline, _, _), (head, _, _), *later = SCRIPTS[OBM]

    def revision_sql(branch, script, down):
        return ['BEGIN;', f'-- Running upgrade {down} -> {script[0]}',
                marker(branch, script), *timeouts,
                *[f'CREATE TABLE {t} (' for t in script[2]], 'COMMIT;']

    expected = []
    # Core only as far as the extension needs: to DEPENDED_ON.
    for branch, scripts in ((CORE, TO_DEPENDED), (OBM, SCRIPTS[OBM])):
        for down, script in zip([None] + scripts, scripts):
            expected += revision_sql(branch, script, down[0] if down else '')
    # alembic_version is made in the first transaction, before the rest.
    expected.insert(1, 'CREATE TABLE alembic_version (')
    sql = result.stdout
    assert result.exit_code == 0, result.stderr
    assert skeleton(sql) == expected
    # The mock OBM's head depends on core's head: it takes over its row.
    assert version_rows(sql) == [
        (marker(CORE, s), [s[0]]) for s in TO_DEPENDED] + [
        (marker(OBM, SCRIPTS[OBM][0]), sorted([DEPENDED_ON, baseline])),
        (marker(OBM, SCRIPTS[OBM][1]), [head])] + [
        (marker(OBM, s), [s[0]]) for s in later]


def test_upgrade_plan_sql_is_only_what_is_pending(databases):
    uri = databases.new()
    config = config_text(uri)
    cli(['db', 'upgrade', '--extension', OBM], config)

    result = cli(['db', 'upgrade', '--plan', '--sql'], config)

    # `upgrade --extension` left the ledger out, and core's after
    # DEPENDED_ON;
    # `upgrade` runs the ledger first, and those last.
    later = LATER
    if uri.startswith('sqlite'):
        # The SQL stops, with one line, at the first revision that
        # rebuilds a SQLite table (it must read it): ee4142f61a1b.
        later = LATER[:[s[0] for s in LATER].index('ee4142f61a1b') + 1]
        assert result.exit_code == 1
        assert 'cannot proceed in --sql mode' in error_line(result)
    else:
        assert result.exit_code == 0, result.stderr
    assert created_per_revision(result.stdout) == [(None, [])] + [
        (marker(b, s), s[2]) for b, s in upgrades(LEDGER, SWITCH)] + [
        (marker(CORE, s), s[2]) for s in later]
