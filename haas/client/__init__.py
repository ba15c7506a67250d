"""haas.client: a Python client library of the HaaS REST API, the one
`haas` the command line is built on.  It speaks HTTP only (requests) and
imports nothing of the server.

Its classes and methods are HIL 1.0's client library's where the two
overlap, so that a script written for HIL ports by changing its imports
(`hil.client` to `haas.client`)::

    from haas.client.client import Client, RequestsHTTPClient
    from haas.client.base import FailedAPICallException

    http = RequestsHTTPClient()
    http.auth = ('admin', 'secret')
    C = Client('http://haas.example.com:5000', http)
    C.project.create('lab')
    C.node.list('free')
    C.project.connect('lab', 'n1')

Every call goes under /v0, where HaaS answers as HIL 1.0 does (`prefix=''`
calls HaaS 0.3's bare paths).  A refused call raises
FailedAPICallException (its `error_type` the server's, such as
`NotFoundError`; its str the server's message); no answer at all raises
UnreachableError; `haas.client.environment.from_environment()` is a
Client of HAAS_ENDPOINT (or HIL_ENDPOINT, or haas.cfg) and its
credentials.  Each method says what it answers.

Where HaaS differs from HIL 1.0:

- `node.register(node, subtype, host, user, password)` registers a node
  with its OBM as HIL did before obmd (the `obm` body HaaS takes; other
  fields by name, `metadata=` too).  HIL 1.0's
  `register(node, obmd_uri, obmd_admin_token)`: HaaS has no obmd.
- `node.show_console` answers the whole log so far, as bytes, where
  HIL's streams it.
- `switch.register(switch, subtype, switchinfo)` also takes a short type
  name (`mock`), and leaves `switchinfo` as it was.
- An error answer that is not HaaS's JSON (a proxy's page) raises
  FailedAPICallException too (`error_type` `HTTP <status>`), where HIL's
  returns the page.
- Left out, as HaaS has no counterpart: KeystoneHTTPClient (HaaS has no
  Keystone auth backend), and HIL's client-side check of reserved
  characters (raising HIL's server's BadArgumentError): names are escaped
  in the URL, and the server answers a bad one with BadArgumentError.
- Added: `node.power_status`, `project.detach(..., force=True)`.
  Headnodes have no methods here (HIL has none); `haas headnode ...`
  calls them by path through `ClientBase.send`.
"""

from haas.client.base import (
    ClientError,
    FailedAPICallException,
    NoEndpointError,
    UnreachableError,
)
from haas.client.client import Client, HTTPClient, RequestsHTTPClient

__all__ = ['Client', 'ClientError', 'FailedAPICallException', 'HTTPClient',
           'NoEndpointError', 'RequestsHTTPClient', 'UnreachableError']
