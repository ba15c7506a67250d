"""bench/upgrade_scale.py at a small size, as a correctness test only: the
0.2 dump grown, upgraded by `haas-admin db upgrade --to-release 0.3`,
equals the same dump changed by the hand-written script (the timings are
the bench's)."""

import importlib.util
import os

import pytest

BENCH = os.path.join(os.path.dirname(__file__), '..', 'bench',
                     'upgrade_scale.py')


def load_bench():
    spec = importlib.util.spec_from_file_location('upgrade_scale', BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_upgrade_and_the_hand_written_script_build_the_same_database(
        pg_databases, dump):
    bench = load_bench()

    result = bench.run(300, rounds=2)

    assert result.differences == []
    assert result.counts['node'] == 307 and result.counts['nic'] == 612
    assert result.counts['network_projects'] == 4 + 30
    assert result.counts['networking_action'] == 3
