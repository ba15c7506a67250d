"""The example third-party extension (tests/extensions/haas_example_ext),
as an extension from another package, and the scripts tests give it."""

import pathlib
import shutil

EXAMPLE = pathlib.Path(__file__).parent.parent / 'extensions' / \
    'haas_example_ext'
EXAMPLE_MODULE = 'haas_example_ext'

FIRST = 'aaaaaaaaaaaa'
SECOND = 'bbbbbbbbbbbb'
# project.id is a 64-bit key (core's 3c2af72d0b46), as the model's
# project_id is.
WIDGET = ("op.create_table('example_widget', "
          "sa.Column('id', sa.Integer(), nullable=False), "
          "sa.Column('label', sa.String(), nullable=False), "
          "sa.Column('project_id', sa.BigInteger().with_variant("
          "sa.Integer(), 'sqlite'), nullable=False), "
          "sa.ForeignKeyConstraint(['project_id'], ['project.id']), "
          "sa.PrimaryKeyConstraint('id'))")


def install_example(tmp_path):
    """Copy the example extension to a scratch import path; its folder."""
    target = tmp_path / 'site' / EXAMPLE_MODULE
    shutil.copytree(EXAMPLE, target,
                    ignore=shutil.ignore_patterns('__pycache__', 'migrations'))
    return target
