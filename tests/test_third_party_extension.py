"""An extension from another package starts and grows its own branch."""

import os
import pathlib
import shutil

import sqlalchemy as sa

from conftest import DEFAULT_EXTENSIONS, config_text, run_admin

EXAMPLE = pathlib.Path(__file__).parent / 'extensions' / 'haas_example_ext'
MODULE = 'haas_example_ext'


def install_example(tmp_path):
    """Copy the example extension to a scratch import path; its folder."""
    target = tmp_path / 'site' / MODULE
    shutil.copytree(EXAMPLE, target,
                    ignore=shutil.ignore_patterns('__pycache__', 'migrations'))
    return target


def test_new_branch_from_another_package(databases, tmp_path):
    uri = databases.new()
    package = install_example(tmp_path)
    folder = package / 'migrations'
    env = {'PYTHONPATH': str(package.parent)}
    without = config_text(uri, DEFAULT_EXTENSIONS)
    with_ext = config_text(uri, DEFAULT_EXTENSIONS + [MODULE])
    run_admin(['db', 'create'], config=without, cwd=tmp_path)

    run_admin(['db', 'migrate', '--head', 'base', '--branch-label', MODULE,
               '--version-path', str(folder), '-m', 'add example_widget'],
              config=with_ext, cwd=tmp_path, env=env)

    scripts = sorted(p.name for p in folder.glob('*.py'))
    assert len(scripts) == 1 and scripts[0].endswith('_add_example_widget.py')
    text = (folder / scripts[0]).read_text()
    assert "branch_labels = ('haas_example_ext',)" in text
    assert "depends_on = '6a8c19565060'" in text
    assert "down_revision = None" in text
    tables = sorted(set(_created_tables(text)))
    assert tables == ['example_widget'], text
    assert 'drop_table' in text and text.count('drop_table') == 1

    run_admin(['db', 'upgrade', 'heads'], config=with_ext, cwd=tmp_path,
              env=env)

    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        assert 'example_widget' in sa.inspect(connection).get_table_names()
    revision = scripts[0].split('_')[0]
    current = run_admin(['db', 'current'], config=with_ext, cwd=tmp_path,
                        env=env)
    assert revision in current.stdout
    run_admin(['db', 'check'], config=with_ext, cwd=tmp_path, env=env)

    again = run_admin(['db', 'migrate', '--head', f'{MODULE}@head', '-m',
                       'nothing'], config=with_ext, cwd=tmp_path, env=env)
    assert 'No schema change detected for branch haas_example_ext' in (
        again.stdout)
    assert len(list(folder.glob('*.py'))) == 1


def test_new_branch_defaults_to_registered_folder(databases, tmp_path):
    uri = databases.new()
    package = install_example(tmp_path)
    env = {'PYTHONPATH': str(package.parent)}
    with_ext = config_text(uri, DEFAULT_EXTENSIONS + [MODULE])
    run_admin(['db', 'upgrade'], config=with_ext, cwd=tmp_path, env=env)

    run_admin(['db', 'migrate', '--branch-label', MODULE, '-m', 'first'],
              config=with_ext, cwd=tmp_path, env=env)

    assert [p.name.split('_', 1)[1] for p in
            (package / 'migrations').glob('*.py')] == ['first.py']


def test_create_leaves_tables_of_a_branch_without_scripts(databases, tmp_path):
    uri = databases.new()
    package = install_example(tmp_path)
    env = {'PYTHONPATH': str(package.parent)}

    result = run_admin(['db', 'create'], cwd=tmp_path, env=env,
                       config=config_text(uri, DEFAULT_EXTENSIONS + [MODULE]))

    assert 'branch haas_example_ext has no migration script yet' in result.stderr
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        tables = sa.inspect(connection).get_table_names()
    assert 'project' in tables and 'example_widget' not in tables


def _created_tables(text):
    for line in text.splitlines():
        line = line.strip()
        if line.startswith('op.create_table('):
            yield line.split("'")[1]


def test_branch_behind_its_head_stops_servers_and_create(databases,
                                                        tmp_path):
    uri = databases.new()
    package = install_example(tmp_path)
    env = {'PYTHONPATH': str(package.parent)}
    config = config_text(uri, DEFAULT_EXTENSIONS + [MODULE])
    run_admin(['db', 'upgrade'], config=config, cwd=tmp_path, env=env)
    run_admin(['db', 'migrate', '--branch-label', MODULE, '-m', 'first',
               '--rev-id', 'aaaaaaaaaaaa'], config=config, cwd=tmp_path,
              env=env)
    run_admin(['db', 'revision', '--head', f'{MODULE}@head', '-m', 'second',
               '--rev-id', 'bbbbbbbbbbbb'], config=config, cwd=tmp_path,
              env=env)
    run_admin(['db', 'upgrade', f'{MODULE}@aaaaaaaaaaaa'], config=config,
              cwd=tmp_path, env=env)

    # One computation decides; every command gives the same advice.
    message = (f'branch {MODULE} is at aaaaaaaaaaaa, behind its head '
               f'bbbbbbbbbbbb (1 revision to run): run `haas-admin db upgrade '
               f'heads`')
    for args in (['serve'], ['db', 'create']):
        result = run_admin(args, config=config, cwd=tmp_path, env=env,
                           check=False)
        assert result.returncode == 1 and 'Traceback' not in result.stderr
        assert result.stderr.splitlines()[-1] == f'Error: {message}'

    run_admin(['db', 'upgrade'], config=config, cwd=tmp_path, env=env)
    assert run_admin(['db', 'create'], config=config, cwd=tmp_path,
                     env=env).stdout == (
        'Every enabled branch already exists; nothing created.\n')
