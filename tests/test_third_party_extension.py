"""An extension from another package starts and grows its own branch.

One test runs it as an operator would, from its own import path in real
processes; the others import it in this process (conftest.example_module)
and give its branch a scratch folder.
"""

import sys

from haas import migrations

from support.commands import cli, error_line, run_admin
from support.config import DEFAULT_EXTENSIONS, config_text
from support.databases import table_names
from support.example import EXAMPLE_MODULE as MODULE
from support.example import install_example
from support.revisions import CORE_HEAD


def _created_tables(text):
    for line in text.splitlines():
        line = line.strip()
        if line.startswith('op.create_table('):
            yield line.split("'")[1]


def test_new_branch_from_another_package(databases, tmp_path):
    uri = databases.new()
    package = install_example(tmp_path)
    folder = package / 'migrations'
    env = {'PYTHONPATH': str(package.parent)}
    with_ext = config_text(uri, DEFAULT_EXTENSIONS + [MODULE])
    cli(['db', 'create'], config_text(uri, DEFAULT_EXTENSIONS))

    run_admin(['db', 'migrate', '--head', 'base', '--branch-label', MODULE,
               '--version-path', str(folder), '-m', 'add example_widget'],
              config=with_ext, cwd=tmp_path, env=env)

    scripts = sorted(p.name for p in folder.glob('*.py'))
    assert len(scripts) == 1 and scripts[0].endswith('_add_example_widget.py')
    text = (folder / scripts[0]).read_text()
    assert "branch_labels = ('haas_example_ext',)" in text
    # Its tables may refer to core's as they are now: at core's head.
    assert f"depends_on = '{CORE_HEAD}'" in text
    assert "down_revision = None" in text
    assert sorted(set(_created_tables(text))) == ['example_widget'], text
    assert text.count('drop_table') == 1

    upgraded = run_admin(['db', 'upgrade', 'heads'], config=with_ext,
                         cwd=tmp_path, env=env)
    revision = scripts[0].split('_')[0]
    assert upgraded.stderr.startswith(f'upgraded {MODULE} to {revision} '
                                      f'(add example_widget) in ')
    assert 'example_widget' in table_names(uri)

    # Its scripts are found at the conventional folder, and match the model.
    checked = run_admin(['db', 'check'], config=with_ext, cwd=tmp_path,
                        env=env)
    assert checked.stdout.startswith('No problems')


def test_new_branch_defaults_to_registered_folder(databases, example_scripts):
    config = config_text(databases.new(), DEFAULT_EXTENSIONS + [MODULE])
    cli(['db', 'upgrade'], config)

    result = cli(['db', 'migrate', '--branch-label', MODULE, '-m', 'first'],
                 config)

    assert result.exit_code == 0, result.output
    assert [p.name.split('_', 1)[1] for p in
            example_scripts.glob('*.py')] == ['first.py']
    cli(['db', 'upgrade'], config)
    again = cli(['db', 'migrate', '--head', f'{MODULE}@head', '-m',
                 'nothing'], config)
    assert again.stdout.endswith('No schema change detected for branch '
                                 'haas_example_ext; no script written.\n')
    assert len(list(example_scripts.glob('*.py'))) == 1


def test_create_leaves_tables_of_a_branch_without_scripts(databases,
                                                          example_scripts):
    uri = databases.new()

    result = cli(['db', 'create'], config_text(uri, DEFAULT_EXTENSIONS +
                                               [MODULE]))

    assert result.stderr.splitlines()[0] == (
        f'Warning: branch {MODULE} has no migration script yet, so its tables '
        f'are not created: write its first migration (MIGRATIONS.md)')
    assert ('project' in table_names(uri)
            and 'example_widget' not in table_names(uri))


def test_branch_behind_its_head_stops_servers_and_create(databases,
                                                        example_scripts):
    config = config_text(databases.new(), DEFAULT_EXTENSIONS + [MODULE])
    cli(['db', 'upgrade'], config)
    cli(['db', 'migrate', '--branch-label', MODULE, '-m', 'first',
         '--rev-id', 'aaaaaaaaaaaa'], config)
    cli(['db', 'revision', '--head', f'{MODULE}@head', '-m', 'second',
         '--rev-id', 'bbbbbbbbbbbb'], config)
    cli(['db', 'upgrade', f'{MODULE}@aaaaaaaaaaaa'], config)

    # One computation decides; every command gives the same advice.
    message = (f'branch {MODULE} is at aaaaaaaaaaaa, behind its head '
               f'bbbbbbbbbbbb (1 revision to run): run `haas-admin db upgrade '
               f'heads`')
    for args in (['serve'], ['db', 'create'], ['serve-networks']):
        assert (args, error_line(cli(args, config))) == (args, message)

    cli(['db', 'upgrade'], config)
    assert cli(['db', 'create'], config).stdout == (
        'Every enabled branch already exists; nothing created.\n')


def test_draft_needs_a_database_at_every_head(databases, example_scripts):
    config = config_text(databases.new(), DEFAULT_EXTENSIONS + [MODULE])

    result = cli(['db', 'migrate', '--branch-label', MODULE, '-m', 'first'],
                 config)

    assert error_line(result) == (
        'a draft is compared with a database at every head, and the database '
        'is not initialised: run `haas-admin db create`')
    assert list(example_scripts.glob('*.py')) == []


def test_status_fails_while_a_branch_without_scripts_lacks_its_tables(
        databases, example_scripts):
    uri = databases.new()
    config = config_text(uri, DEFAULT_EXTENSIONS + [MODULE])
    cli(['db', 'create'], config)

    result = cli(['db', 'status'], config)
    served = cli(['serve', '--port', '1'], config)

    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == (
        f'Next: branch {MODULE} has no migration script, so its table '
        f'example_widget is missing: write its first migration '
        f'(MIGRATIONS.md, `haas-admin db migrate --branch-label {MODULE}`), '
        f'or take its extension out of [extensions]')
    assert served.exit_code == 1
    assert error_line(served).endswith('or take its extension out of '
                                       '[extensions]')


def test_scripts_are_where_the_extension_registers_them(databases, tmp_path,
                                                        monkeypatch):
    """One answer to where an extension's scripts are: what it registers.
    One that registers another folder while its conventional one holds
    scripts is refused, so reading the scripts without importing it
    (the conventional folder) can never give another answer."""
    uri = databases.new()
    name = 'haas_elsewhere_ext'
    package = tmp_path / 'site' / name
    (package / 'migrations').mkdir(parents=True)
    (package / 'migrations' / 'aaaaaaaaaaaa_first.py').write_text(
        f"revision = 'aaaaaaaaaaaa'\ndown_revision = None\n"
        f"branch_labels = ('{name}',)\n")
    (package / 'elsewhere').mkdir()
    (package / '__init__.py').write_text(
        'import os\n\nfrom haas import migrations\n\n'
        'migrations.paths[__name__] = os.path.join(\n'
        '    os.path.dirname(__file__), "elsewhere")\n')
    monkeypatch.syspath_prepend(str(package.parent))
    config = config_text(uri, DEFAULT_EXTENSIONS + [name])

    # Reading the scripts does not import it: the conventional folder.
    assert f'aaaaaaaaaaaa ({name}) (head)' in cli(
        ['db', 'heads'], config).stdout.splitlines()
    # Every command that imports it refuses it.
    for command in (['db', 'upgrade', 'heads'], ['db', 'status']):
        result = cli(command, config)
        assert error_line(result) == (
            f'extension {name} registers its migration scripts in '
            f'{package / "elsewhere"}, but {package / "migrations"} holds '
            f'scripts too: keep them in one folder'), command
        sys.modules.pop(name, None)
        migrations.paths.pop(name, None)
    assert table_names(uri) == []


def test_a_file_that_is_no_script_in_a_folder_of_scripts_is_one_line(
        databases, example_scripts):
    (example_scripts / 'notes.py').write_text('# not a revision\n')
    config = config_text(databases.new(), DEFAULT_EXTENSIONS + [MODULE])

    result = cli(['db', 'heads'], config)

    assert error_line(result) == (
        'the migration scripts cannot be read: Could not determine revision '
        'id from filename notes.py. Be sure the \'revision\' variable is '
        'declared inside the script (please see \'Upgrading from Alembic 0.1 '
        'to 0.2\' in the documentation).')
