"""Fuzz a running `haas-admin serve` from its own OpenAPI document.

One server, on a SQLite file in a temporary directory and the extensions
that need no credentials, serves the whole module (one per xdist worker).
Schemathesis loads GET /openapi.json from it and sends every operation
generated requests, valid and invalid; every answer must be no 5xx, and
must match the document: a documented status code, a documented content
type, a body that the documented schema accepts, the documented headers.

Bounded: a few examples per operation, a deadline on each and a timeout
on each request, so that the file takes seconds.

The operations are fuzzed from the document the server serves, so they
are known only once it runs: they are split into SHARDS tests (one per
xdist worker), each of which fuzzes its share and reports every failing
operation, not only the first.  (schemathesis.pytest.from_fixture would
make one test of them all, and it does not run on pytest 9.2: it sets
`Function._nodeid`, which pytest 9.2 no longer has.)
"""

import os
import subprocess
import time
import types
import urllib.request

import hypothesis
import hypothesis.strategies as st
import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from support.commands import HAAS_ADMIN
from support.config import DEFAULT_EXTENSIONS, config_text
from support.servers import free_port

#: Generated requests per operation.
MAX_EXAMPLES = 25
#: The longest one example (its request, the answer, the checks) may take.
DEADLINE_MS = 2000
#: The longest the server may take to answer one request, in seconds.
REQUEST_TIMEOUT = 5
#: The operations are split into this many tests: one per xdist worker.
SHARDS = 2


def valid_data_acceptance(ctx, response, case):
    """A request the document allows is not refused as invalid.

    positive_data_acceptance, but for a 400 on meaning rather than form:
    a BadArgumentError (an image the configuration lacks, a network id
    the allocator does not know) says what no schema can.  The document's
    own refusals are ValidationErrors.
    """
    if response.status_code == 400 and \
            response.json().get('type') != 'ValidationError':
        return None
    return positive_data_acceptance(ctx, response, case)


#: No 5xx, an answer that matches the document in every respect, and the
#: document and the server agree on what is valid, both ways: what it
#: allows is not refused as invalid, what it forbids is refused.
CHECKS = [not_a_server_error, status_code_conformance,
          content_type_conformance, response_headers_conformance,
          response_schema_conformance, valid_data_acceptance,
          negative_data_rejection]


def _stop(server):
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@pytest.fixture(scope='module')
def haas_server(tmp_path_factory):
    """A running `haas-admin serve`: its base `url` and its `log` file."""
    tmp = tmp_path_factory.mktemp('fuzz')
    config = tmp / 'haas.cfg'
    config.write_text(config_text(f'sqlite:///{tmp / "haas.db"}',
                                  DEFAULT_EXTENSIONS))
    env = {**os.environ, 'HAAS_CONFIG': str(config)}
    created = subprocess.run([HAAS_ADMIN, 'db', 'create'], cwd=tmp, env=env,
                             capture_output=True, text=True)
    assert created.returncode == 0, created.stdout + created.stderr
    port = free_port()
    log_path = tmp / 'server.log'
    with open(log_path, 'wb') as log:
        server = subprocess.Popen(
            [HAAS_ADMIN, 'serve', '--host', '127.0.0.1', '--port', str(port)],
            cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}'
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + '/openapi.json', timeout=5):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail('haas-admin serve did not start:\n'
                                + log_path.read_text(), pytrace=False)
                time.sleep(0.1)
        yield types.SimpleNamespace(url=url, log=log_path)
    finally:
        _stop(server)


@pytest.fixture(scope='module')
def haas_schema(haas_server):
    """The server's own OpenAPI document, as schemathesis loads it."""
    return schemathesis.openapi.from_url(haas_server.url + '/openapi.json',
                                         timeout=REQUEST_TIMEOUT)


def _fuzz(operation):
    """Send `operation` generated requests, valid and invalid; check each."""
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                      operation.as_strategy(GenerationMode.NEGATIVE))

    # Derandomized: the same cases on every run, so that CI is stable.
    @hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=DEADLINE_MS,
                         database=None, derandomize=True)
    @hypothesis.given(case=cases)
    def fuzz(case):
        case.call_and_validate(checks=CHECKS, timeout=REQUEST_TIMEOUT)

    fuzz()


@pytest.mark.parametrize('shard', range(SHARDS))
def test_every_answer_matches_the_document(haas_server, haas_schema, shard):
    """This shard's operations of the document, fuzzed; each failure told."""
    results = list(haas_schema.get_all_operations())
    assert results, 'the document has no operation'
    failures = []
    for result in results[shard::SHARDS]:
        if isinstance(result, Err):
            failures.append(f'The document: {result.err()}')
            continue
        operation = result.ok()
        try:
            _fuzz(operation)
        # schemathesis's FailureGroup is a BaseExceptionGroup.
        except (Exception, BaseExceptionGroup) as e:
            failures.append(f'{operation.label}: {type(e).__name__}\n{e}')
    if failures:
        pytest.fail('\n\n'.join(failures) + f'\n\nThe server log: '
                    f'{haas_server.log}', pytrace=False)
