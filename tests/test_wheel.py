"""A wheel built from the tree works from a fresh virtualenv elsewhere."""

import os
import pathlib
import subprocess
import sys
import venv

import pytest

from haas.migrations import LEDGER

from conftest import LEGACY_EXTENSIONS, config_text

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_installed_wheel_finds_every_migration_script(tmp_path):
    dist = tmp_path / 'dist'
    built = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps',
                            '--no-build-isolation', '-q', '-w', str(dist),
                            str(ROOT)], check=True, capture_output=True,
                           text=True)
    # The packaging metadata builds without a single setuptools warning.
    assert (built.stdout, built.stderr) == ('', '')
    wheel, = dist.glob('haas-*.whl')
    env_dir = tmp_path / 'venv'
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / 'bin'
    subprocess.run([bin_dir / 'pip', 'install', '-q', str(wheel)], check=True,
                   capture_output=True)
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
