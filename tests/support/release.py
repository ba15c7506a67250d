"""An earlier HaaS release, run for real: its code from the commit that made
it, in processes that import it instead of this tree's.

The release's tree is written out of this clone's history (`git archive`)
once per test session; its commands run with this environment's
interpreter and libraries, with the release's tree first on the import
path.  A clone without that commit (a shallow one) skips the tests that
need it, saying so.
"""

import os
import pathlib
import subprocess
import sys
import time
import urllib.error

import pytest

from support.servers import Server, free_port, stop

ROOT = pathlib.Path(__file__).resolve().parents[2]

#: How an earlier release's `haas-admin` is started.
_MAIN = ('import sys; from haas.commands import run; '
         'sys.argv[0] = "haas-admin"; run()')


class Release:
    """The code of a release, written out to `tree`."""

    def __init__(self, name, tree):
        self.name = name
        self.tree = pathlib.Path(tree)

    def env(self, config_path):
        env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
        env.update(PYTHONPATH=str(self.tree), HAAS_CONFIG=str(config_path),
                   PYTHONDONTWRITEBYTECODE='1')
        return env

    def command(self, *args):
        # -P: the working directory (this tree's root, say) does not go
        # before the release's tree on the import path.
        return [sys.executable, '-P', '-c', _MAIN, *args]

    def admin(self, config_path, *args, input=None, check=True):
        """Run the release's `haas-admin ARGS`; the CompletedProcess."""
        result = subprocess.run(
            self.command(*args), env=self.env(config_path), input=input,
            capture_output=True, text=True, timeout=300,
            cwd=config_path.parent)
        if check and result.returncode != 0:
            raise AssertionError(f'haas-admin {" ".join(args)} of release '
                                 f'{self.name} failed ({result.returncode})'
                                 f':\n{result.stderr}')
        return result

    def serve(self, config_path, uri, log_path):
        """A started `haas-admin serve` of the release: (the Popen, the
        Server)."""
        return start_server(self.command, self.env(config_path), uri,
                            log_path)


def start_server(command, env, uri, log_path):
    """Start `command('serve', ...)` with `env`; (the Popen, the Server),
    once it answers."""
    port = free_port()
    with open(log_path, 'wb') as log:
        process = subprocess.Popen(
            command('serve', '--host', '127.0.0.1', '--port', str(port)),
            env=env, stdout=log, stderr=subprocess.STDOUT,
            cwd=pathlib.Path(log_path).parent)
    server = Server(f'http://127.0.0.1:{port}', uri)
    deadline = time.monotonic() + 60
    while True:
        try:
            server.raw('GET', '/projects', credentials=None)
            return process, server
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process)
                pytest.fail(f'the server did not start '
                            f'({process.returncode}):\n'
                            f'{pathlib.Path(log_path).read_text()}')
            time.sleep(0.05)


def commit_of(subject):
    """The commit of this clone's history whose subject is `subject`, or
    None (not a git clone, or a shallow one without it)."""
    try:
        found = subprocess.run(
            ['git', '-C', str(ROOT), 'log', '--format=%H', '--fixed-strings',
             f'--grep={subject}', 'HEAD'],
            capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        return None
    if found.returncode != 0:
        return None
    for commit in found.stdout.split():
        line = subprocess.run(
            ['git', '-C', str(ROOT), 'log', '-1', '--format=%s', commit],
            capture_output=True, text=True, timeout=60).stdout.strip()
        if line == subject:
            return commit
    return None


def written_out(name, folder):
    """Release `name` (such as '0.3'), from its "Release <name>.0" commit,
    written out to `folder`; skips the test if this clone lacks it."""
    release = write_out(name, folder)
    if release is None:
        pytest.skip(f'the "Release {name}.0" commit is not in this clone (a '
                    f'shallow clone?): fetch the whole history to run the '
                    f'tests against release {name}')
    return release


def write_out(name, folder):
    """Release `name`, written out to `folder`; None if this clone lacks
    its "Release <name>.0" commit."""
    commit = commit_of(f'Release {name}.0')
    if commit is None:
        return None
    archive = subprocess.run(['git', '-C', str(ROOT), 'archive', commit,
                              'haas'], capture_output=True, check=True,
                             timeout=120)
    subprocess.run(['tar', '-x', '-C', str(folder)], input=archive.stdout,
                   check=True, timeout=120)
    return Release(name, folder)
