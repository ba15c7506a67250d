"""The adoption probe's child process: what it hands back, and what it
leaves alone (the parent's database connection above all).

A test worker runs threads, where forking is unsafe, so each case runs in
a process of its own, single-threaded as `haas-admin` is.
"""

import logging
import os
import subprocess
import sys
import textwrap

import sqlalchemy as sa

from haas import migrations
from haas.model import db

from support.commands import run_admin
from support.config import config_text
from support.databases import make_app

CHILD = '''
import os, sys
import psycopg2
from haas.migrations.adopt import _Child

url = sys.argv[1]
connection = psycopg2.connect(url)
with connection.cursor() as cursor:
    cursor.execute('SELECT pg_backend_pid()')
    before = cursor.fetchone()[0]

def fails():
    raise RuntimeError('no schema here')

answers = [_Child(lambda: {'haas': [('6a8c19565060', {'node': 1})]}).result(),
           _Child(fails).result(), _Child(lambda: os.getpid()).result()]
# The child's connection copy is closed without a word to the server:
# this connection is the same backend, still usable.
with connection.cursor() as cursor:
    cursor.execute('SELECT pg_backend_pid()')
    after = cursor.fetchone()[0]
print(answers[:2], answers[2] != os.getpid(), before == after)
try:
    os.waitpid(-1, os.WNOHANG)
    print('a child is left')
except ChildProcessError:
    print('no child left')
'''


def test_a_child_hands_back_its_result_none_on_failure_and_leaves_the_connection(  # noqa: E501
        pg_databases):
    url = sa.make_url(pg_databases.new())
    dsn = (f'host={url.host} port={url.port} user={url.username} '
           f'dbname={url.database}')

    result = subprocess.run([sys.executable, '-c', textwrap.dedent(CHILD),
                             dsn],
                            capture_output=True, text=True, timeout=60)

    assert (result.stdout, result.stderr) == (
        "[{'haas': [('6a8c19565060', {'node': 1})]}, None] True True\n"
        "no child left\n", '')


# --- silence, whatever the log level ---------------------------------------

OBM = 'haas.ext.obm.mock'
OBM_HEAD = 'bf6ad6510a60'
ADOPT_OBM = (f'branch {OBM} has tables but no version row (its first script '
             f'adopts them): run `haas-admin db upgrade heads` to adopt them')


def without_obm_row(uri):
    """`db create` on `uri`, then the mock OBM's version row dropped by
    hand: its tables are there to adopt, so `status` runs the probe."""
    app = make_app(uri)
    with app.app_context():
        migrations.create()
        with db.engine.begin() as connection:
            connection.exec_driver_sql(
                f"DELETE FROM alembic_version WHERE version_num = "
                f"'{OBM_HEAD}'")
    return app


def test_status_at_log_level_info_logs_nothing_of_the_probes_runs(
        databases, tmp_path):
    uri = databases.new()
    without_obm_row(uri)
    config = config_text(uri) + '[general]\nlog_level = info\n'

    result = run_admin(['db', 'status'], config=config, cwd=tmp_path,
                       check=False)

    # The probe runs every script on a scratch database, in a child of
    # this single-threaded process; Alembic would log each as it runs.
    assert (result.returncode, result.stdout.splitlines()[-1],
            [line for line in result.stderr.splitlines()
             if line.startswith('INFO:alembic.runtime.migration')]) == (
        1, f'Next: {ADOPT_OBM}', [])


def test_a_probe_in_a_thread_logs_nothing_while_the_caller_still_logs(
        databases, caplog, monkeypatch):
    app = without_obm_row(databases.new())
    # Without fork (as in a process running threads) the probe builds in
    # a thread of its own, beside this one.
    monkeypatch.delattr(os, 'fork')
    caplog.set_level(logging.INFO)

    with app.app_context():
        advice = migrations.status().advice()
    logging.getLogger('alembic.runtime.migration').info('a real run')

    assert (advice.message, [
        (r.name, r.getMessage()) for r in caplog.records
        if r.name.startswith(('alembic', 'haas.migrations'))]) == (
        ADOPT_OBM, [('alembic.runtime.migration', 'a real run')])
