"""`db lint` on the HaaS 0.2 dump as it comes from the field (unversioned)
lists what it lists on the same database stamped at 0.2: the baselines
that adopt the dump's tables do not make them new."""

import json

import pytest

from support.commands import cli
from support.config import LEGACY_EXTENSIONS, config_text
from support.legacy import load_dump


@pytest.fixture
def legacy_config(pg_databases, dump):
    """The haas.cfg of a fresh copy of the 0.2 dump, unversioned."""
    uri = pg_databases.new()
    load_dump(uri, dump)
    return config_text(uri, LEGACY_EXTENSIONS)


def findings(config):
    result = cli(['db', 'lint', '--json'], config)
    assert result.exit_code == 0, result.stderr
    return [(f['branch'], f['revision'], f['rule'], f['statement'],
             f['reason']) for f in json.loads(result.stdout)['findings']]


def test_the_unversioned_dump_lists_what_it_lists_stamped_at_0_2(
        pg_databases, dump, legacy_config):
    uri = pg_databases.new()
    load_dump(uri, dump)
    stamped = config_text(uri, LEGACY_EXTENSIONS)
    assert cli(['db', 'upgrade', '--to-release', '0.2'],
               stamped).exit_code == 0

    unversioned = findings(legacy_config)

    assert unversioned == findings(stamped)
    # Every core table is rewritten for its 64-bit keys, waived.
    assert {(revision, rule) for _, revision, rule, _, reason in unversioned
            if reason} >= {('3c2af72d0b46', 'type-change-rewrites'),
                           ('6ab9ae569654', 'index-not-concurrent')}
    assert all(reason for *_, reason in unversioned)
