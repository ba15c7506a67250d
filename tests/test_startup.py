"""Start-up cost: what `haas-admin` imports before it does any work, read from
the sys.modules of a fresh interpreter (this process has imported it all)."""

import contextlib
import io
import json
import os
import subprocess
import sys

import click
import pytest

from haas.commands import admin

from support.config import LEGACY_EXTENSIONS, config_text
from support.revisions import CORE_HEAD, CORE_REVISIONS, DEPENDED_ON, SCRIPTS

#: Run in a fresh interpreter: each command of argv[1] (a JSON list of
#: argument lists), then print, per run, its exit status, its output and
#: the modules it imported; the first entry is the import of the CLI.
DRIVER = r'''
import contextlib, io, json, sys

runs = []
before = set(sys.modules)
from haas.commands import admin
runs.append({'args': None, 'imported': sorted(set(sys.modules) - before)})
for args in json.loads(sys.argv[1]):
    before = set(sys.modules)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            admin.main(args, prog_name='haas-admin', terminal_width=80)
            code = 0
        except SystemExit as e:
            code = e.code
    runs.append({'args': args, 'exit': code, 'stdout': out.getvalue(),
                 'stderr': err.getvalue(),
                 'imported': sorted(set(sys.modules) - before)})
json.dump(runs, sys.stdout)
'''

#: What no --help may import: the database stack, Flask, the application
#: and the extensions.
HELP_FORBIDDEN = ('sqlalchemy', 'flask_sqlalchemy', 'flask_migrate', 'alembic',
                  'flask', 'haas.model', 'haas.app', 'haas.ext')

#: What reading the scripts may not import: the models, the application,
#: or a database driver (which an engine would load).
READING_FORBIDDEN = ('flask_sqlalchemy', 'haas.model', 'haas.app',
                     'psycopg2', 'sqlite3', '_sqlite3')

#: Every verb of `haas-admin db` the issue names; the walk must find them.
DB_VERBS = {'status', 'create', 'upgrade', 'downgrade', 'forget', 'stamp',
            'check', 'current', 'heads', 'branches', 'show', 'history',
            'revision', 'migrate', 'edit', 'merge'}

HEADS = [f'{CORE_HEAD} (haas) (head)',
         '82a6f7041729 (haas.migrations.ledger) (head)',
         '15084df56fa8 (haas.ext.auth.database) (head)',
         '6061f125b415 (haas.ext.network_allocators.vlan_pool) (head)',
         '8bdf5c902a41 (haas.ext.switches.mock) (head)',
         '8ecb0d349ed2 (haas.ext.switches.nexus) (head)',
         'e9c7556cca0f (haas.ext.switches.dell) (head)',
         'bf6ad6510a60 (haas.ext.obm.mock) (head)',
         '2de6116630a2 (haas.ext.obm.ipmi) (head)']


def command_paths(group, prefix=()):
    """The argument prefix of every group and command under `group`."""
    yield list(prefix)
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from command_paths(command, prefix + (name,))
        else:
            yield list(prefix + (name,))


def drive(commands, env=None):
    """Run DRIVER over `commands` in a fresh interpreter; its runs."""
    environ = {k: v for k, v in os.environ.items() if k != 'HAAS_CONFIG'}
    environ.update(env or {})
    result = subprocess.run(
        [sys.executable, '-c', DRIVER, json.dumps(commands)],
        capture_output=True, text=True, env=environ, timeout=120, check=True)
    return json.loads(result.stdout)


def forbidden(modules, prefixes):
    """Those of `modules` that are, or are inside, one of `prefixes`."""
    return [m for m in modules
            if any(m == p or m.startswith(p + '.') for p in prefixes)]


def help_here(args):
    """The help text of `args`, rendered in this process."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = admin.main([*args, '--help'], prog_name='haas-admin',
                          terminal_width=80, standalone_mode=False)
    assert code == 0
    return out.getvalue()


def test_help_of_every_command_imports_no_database_flask_or_extension():
    paths = list(command_paths(admin.main))
    assert DB_VERBS <= {p[1] for p in paths if len(p) == 2 and p[0] == 'db'}
    commands = [[*path, '--help'] for path in paths]
    runs = drive(commands)
    assert {' '.join(run['args'] or ['(import)']):
            forbidden(run['imported'], HELP_FORBIDDEN) for run in runs} == {
        ' '.join(args): [] for args in [['(import)'], *commands]}
    # Each run printed its command's own help, and nothing else.
    assert [(run['exit'], run['stdout'], run['stderr']) for run in runs[1:]] \
        == [(0, help_here(path), '') for path in paths]


@pytest.mark.parametrize('uri', [
    'postgresql://postgres@127.0.0.1:1/haas',
    'sqlite:///{tmp}/missing/haas.db',
], ids=['postgresql-unreachable', 'sqlite-missing-directory'])
def test_reading_the_scripts_loads_no_models_and_opens_no_database(
        uri, tmp_path):
    """An unusable URI: any attempt to connect would fail the command."""
    path = tmp_path / 'haas.cfg'
    path.write_text(config_text(uri.format(tmp=tmp_path), LEGACY_EXTENSIONS))
    verbs = ['heads', 'branches', 'history', 'show']
    runs = drive([['db', verb] for verb in verbs],
                 env={'HAAS_CONFIG': str(path)})
    assert {run['args'][1]: (run['exit'], run['stderr'],
                             forbidden(run['imported'], READING_FORBIDDEN))
            for run in runs[1:]} == {verb: (0, '', []) for verb in verbs}
    by_verb = {run['args'][1]: run['stdout'] for run in runs[1:]}
    assert by_verb['heads'].splitlines() == HEADS
    # No branch forks: `branches` has nothing to say.
    assert by_verb['branches'] == ''
    # Newest first: core's after DEPENDED_ON, on which nothing depends, then
    # each extension, then core's up to it, as the extensions depend on it,
    # then the first scripts of the ledger and core, which depend on
    # nothing.
    since = CORE_REVISIONS.index(DEPENDED_ON) + 1
    assert [line.partition(' -> ')[2].split()[0]
            for line in by_verb['history'].splitlines()] == [
        *reversed(CORE_REVISIONS[since:]),
        *[revision for head in HEADS[2:]
          for revision, _, _ in reversed(SCRIPTS[head.split()[1][1:-1]])],
        *reversed(CORE_REVISIONS[1:since]), '82a6f7041729',
        CORE_REVISIONS[0]]
    assert [line for line in by_verb['show'].splitlines()
            if line.startswith('Rev: ')] == [
        f'Rev: {line.split()[0]} (head)' for line in HEADS]


#: Build the application as `haas-admin` does (process=True) and as an
#: in-process caller does; print what the garbage collector was left with.
GC_DRIVER = r'''
import gc, json, sys
from haas.commands import Script
seen = []
for process in (False, True):
    frozen = gc.get_freeze_count()
    Script(sys.argv[1], process=process).load_app()
    seen.append([gc.isenabled(), gc.get_freeze_count() > frozen])
json.dump(seen, sys.stdout)
'''


def test_the_executable_freezes_what_it_builds_and_leaves_the_collector_on(
        tmp_path):
    config = config_text(f'sqlite:///{tmp_path}/haas.db', LEGACY_EXTENSIONS)
    result = subprocess.run([sys.executable, '-c', GC_DRIVER, config],
                            capture_output=True, text=True, timeout=120,
                            check=True)
    # A caller in its own process (a test, a script) keeps its collector as
    # it was; the executable freezes its start-up graph and collects on.
    assert json.loads(result.stdout) == [[True, False], [True, True]]


def test_the_executable_is_the_process_entry_point():
    from importlib.metadata import entry_points
    (script,) = entry_points(group='console_scripts', name='haas-admin')
    assert script.value == 'haas.commands:run'


def test_schema_commands_build_the_app_without_loading_the_api_validation(
        tmp_path):
    """pydantic checks requests; a command on the schema never needs it."""
    path = tmp_path / 'haas.cfg'
    path.write_text(config_text(f'sqlite:///{tmp_path}/haas.db',
                                LEGACY_EXTENSIONS))
    runs = drive([['db', 'create'], ['db', 'status']],
                 env={'HAAS_CONFIG': str(path)})
    assert [(run['exit'], forbidden(run['imported'], ('pydantic',)))
            for run in runs[1:]] == [(0, []), (0, [])]
    # ...and they did build the application, with the extensions.
    assert 'haas.app' in runs[1]['imported']
    assert 'haas.ext.switches.nexus' in runs[1]['imported']


#: The executable, with an exit function registered first (as a coverage
#: tool or an extension would) and its standard output block-buffered.
EXIT_DRIVER = r'''
import atexit, io, sys
sys.stdout = io.TextIOWrapper(sys.stdout.buffer, write_through=False)
atexit.register(lambda: print('exit function ran', flush=True))
sys.argv = ['haas-admin', *sys.argv[1:]]
from haas.commands import run
run()
'''


@pytest.mark.parametrize('args, code, out', [
    (['db', 'heads'], 0, 'heads'),
    (['db', 'upgrade', 'no-such-revision'], 1, ''),
    (['no-such-command'], 2, ''),
])
def test_the_executable_exits_with_its_status_output_and_exit_functions(
        databases, tmp_path, args, code, out):
    uri = databases.new()
    path = tmp_path / 'haas.cfg'
    path.write_text(config_text(uri, LEGACY_EXTENSIONS))
    env = {**os.environ, 'HAAS_CONFIG': str(path)}

    result = subprocess.run([sys.executable, '-c', EXIT_DRIVER, *args],
                            capture_output=True, text=True, timeout=120,
                            env=env)

    lines = result.stdout.splitlines()
    assert (result.returncode, lines[-1]) == (code, 'exit function ran')
    if out == 'heads':
        assert lines[:-1] == HEADS
    else:
        assert lines[:-1] == []
        assert result.stderr.splitlines()[-1].startswith('Error: ')
