"""A wheel built from the tree works from a fresh virtualenv elsewhere."""

import fcntl
import json
import os
import pathlib
import shutil
import subprocess
import sys
import venv

import pytest

from haas.migrations import LEDGER

from support.config import LEGACY_EXTENSIONS, config_text
from support.example import EXAMPLE, EXAMPLE_MODULE, FIRST, WIDGET
from support.revisions import CORE_HEAD, write_script

ROOT = pathlib.Path(__file__).resolve().parent.parent


class Installed:
    """A virtualenv with only the wheel (and its dependencies) in it, built
    in `folder` unless it already is."""

    def __init__(self, folder):
        self.env_dir = folder / 'venv'
        self.bin_dir = self.env_dir / 'bin'
        done = folder / 'built.json'
        if not done.exists():
            self._build(folder, done)
        #: what `pip wheel` printed
        self.built = json.loads(done.read_text())

    def _build(self, folder, done):
        dist = folder / 'dist'
        built = subprocess.run(
            [sys.executable, '-m', 'pip', 'wheel', '--no-deps',
             '--no-build-isolation', '-q', '-w', str(dist), str(ROOT)],
            check=True, capture_output=True, text=True)
        wheel, = dist.glob('haas-*.whl')
        # Without a pip of its own (installing one takes seconds): this
        # process's pip installs into it.
        venv.create(self.env_dir)
        self.install(str(wheel))
        done.write_text(json.dumps([built.stdout, built.stderr]))

    def install(self, *requirements):
        """pip install `requirements` into the virtualenv.  Without
        compiling them: their first import does, for what is imported."""
        subprocess.run([sys.executable, '-m', 'pip', '--python',
                        str(self.bin_dir / 'python'), 'install', '-q',
                        '--no-compile', *requirements],
                       check=True, capture_output=True)


# Both tests on one worker of a distributed run, one after the other: the
# other worker would otherwise wait, idle, for the first one's build.
pytestmark = pytest.mark.xdist_group('wheel')


@pytest.fixture(scope='session')
def installed(tmp_path_factory):
    """One wheel and virtualenv for the run: the xdist workers share the
    run's temporary folder, and take turns under a lock (two builds in one
    tree at once would share its build/ folder)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get('PYTEST_XDIST_WORKER'):
        base = base.parent
    folder = base / 'wheel'
    folder.mkdir(exist_ok=True)
    with open(folder / 'lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return Installed(folder)


@pytest.mark.slow
def test_installed_wheel_finds_every_migration_script(installed, tmp_path):
    # The packaging metadata builds without a single setuptools warning.
    assert installed.built == ['', '']
    env_dir, bin_dir = installed.env_dir, installed.bin_dir
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    (elsewhere / 'haas.cfg').write_text(config_text(
        f'sqlite:///{elsewhere / "haas.db"}', LEGACY_EXTENSIONS))
    env = {'PATH': f'{bin_dir}:{os.environ["PATH"]}', 'HOME': str(tmp_path)}

    def admin(*args):
        return subprocess.run([bin_dir / 'haas-admin', *args], cwd=elsewhere,
                              env=env, check=True, capture_output=True,
                              text=True).stdout

    location = subprocess.run(
        [bin_dir / 'python', '-c', 'import haas; print(haas.__file__)'],
        cwd=elsewhere, env=env, check=True, capture_output=True,
        text=True).stdout
    assert location.startswith(str(env_dir))

    heads = sorted(line.split()[1] for line in admin('db', 'heads')
                   .splitlines())
    assert heads == sorted(f'({b})'
                           for b in ['haas', LEDGER] + LEGACY_EXTENSIONS)
    admin('db', 'upgrade', 'heads')
    assert admin('db', 'create') == ('Every enabled branch already exists; '
                                     'nothing created.\n')


@pytest.mark.slow
def test_a_third_party_extension_tests_its_migrations_with_the_plugin(
        installed, tmp_path):
    """The example extension, outside HaaS's tree, with only the wheel
    installed (and the extension's own test tools, which this adds to the
    shared virtualenv): `haas-admin db test` and its own pytest run
    pass."""
    bin_dir = installed.bin_dir
    installed.install('pytest', 'psycopg2-binary')
    site = tmp_path / 'site'
    shutil.copytree(EXAMPLE, site / EXAMPLE_MODULE,
                    ignore=shutil.ignore_patterns('__pycache__'))
    write_script(site / EXAMPLE_MODULE / 'migrations', FIRST,
                 labels=(EXAMPLE_MODULE,), depends=CORE_HEAD, upgrade=WIDGET,
                 downgrade="op.drop_table('example_widget')",
                 message='add example_widget')
    tests = tmp_path / 'tests'
    tests.mkdir()
    (tests / 'test_migrations.py').write_text(
        'from haas.testing import MigrationTests\n\n\n'
        'class TestMigrations(MigrationTests):\n'
        f'    extension = {EXAMPLE_MODULE!r}\n')
    env = {'PATH': f'{bin_dir}:{os.environ["PATH"]}', 'HOME': str(tmp_path),
           'PYTHONPATH': str(site), 'HAAS_CONFIG': str(tmp_path / 'none.cfg'),
           **{k: v for k, v in os.environ.items()
              if k.startswith('HAAS_TEST_')}}
    (tmp_path / 'none.cfg').write_text('')

    checked = subprocess.run([bin_dir / 'haas-admin', 'db', 'test',
                              EXAMPLE_MODULE], cwd=tmp_path, env=env,
                             capture_output=True, text=True)
    tested = subprocess.run([bin_dir / 'python', '-m', 'pytest', '-q',
                             '-p', 'no:cacheprovider', str(tests)],
                            cwd=tmp_path, env=env, capture_output=True,
                            text=True)

    assert (checked.returncode, checked.stderr) == (0, ''), checked.stdout
    assert tested.returncode == 0, tested.stdout
    assert tested.stdout.splitlines()[-1].startswith('12 passed')
