"""HaaS's commands as the tests run them: `haas-admin` in this process
(Click's runner) or in a subprocess, and the paths of the installed
programs."""

import os
import subprocess
import sys
import uuid

from click.testing import CliRunner

from haas.commands import Script, admin
from haas.config import Config
from haas.model import db

BIN = os.path.dirname(sys.executable)
HAAS_ADMIN = os.path.join(BIN, 'haas-admin')
#: The client.
HAAS = os.path.join(BIN, 'haas')
GUNICORN = os.path.join(BIN, 'gunicorn')


def run_admin(args, config=None, cwd=None, env=None, check=True):
    """Run `haas-admin` in a subprocess; returns the CompletedProcess."""
    environ = dict(os.environ)
    environ.pop('HAAS_CONFIG', None)
    if config is not None:
        path = os.path.join(cwd or os.getcwd(),
                            f'haas-{uuid.uuid4().hex[:8]}.cfg')
        with open(path, 'w') as f:
            f.write(config)
        environ['HAAS_CONFIG'] = path
    environ.update(env or {})
    result = subprocess.run([HAAS_ADMIN, *args], capture_output=True,
                            text=True, cwd=cwd, env=environ, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f'haas-admin {" ".join(args)} failed '
                             f'({result.returncode}):\n{result.stderr}')
    return result


def cli(args, config=None, input=None):
    """Run `haas-admin ARGS` in this process, with the haas.cfg text
    `config` (None: the defaults) and `input` on stdin; returns Click's
    Result.

    Output and errors are checked here without a subprocess; a bug (an
    exception the command line does not turn into one line) fails the
    test with its traceback.
    """
    script = Script(None if config is None else Config.from_string(config))
    result = CliRunner().invoke(admin.main, args, obj=script, input=input)
    if script._app is not None:
        with script._app.app_context():
            db.engine.dispose()
    if result.exception is not None and not isinstance(result.exception,
                                                       SystemExit):
        raise result.exception
    return result


def error_line(result):
    """The one line a failed command printed, checked to be the only one."""
    assert result.exit_code == 1, (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith('Error: '), result.stderr
    return lines[0][len('Error: '):]
