"""The adoption probe's child process: what it hands back, and what it
leaves alone (the parent's database connection above all).

A test worker runs threads, where forking is unsafe, so each case runs in
a process of its own, single-threaded as `haas-admin` is.
"""

import subprocess
import sys
import textwrap

import sqlalchemy as sa

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


def test_a_child_hands_back_its_result_none_on_failure_and_leaves_the_connection(
        pg_databases):
    url = sa.make_url(pg_databases.new())
    dsn = (f'host={url.host} port={url.port} user={url.username} '
           f'dbname={url.database}')

    result = subprocess.run([sys.executable, '-c', textwrap.dedent(CHILD), dsn],
                            capture_output=True, text=True, timeout=60)

    assert (result.stdout, result.stderr) == (
        "[{'haas': [('6a8c19565060', {'node': 1})]}, None] True True\n"
        "no child left\n", '')
