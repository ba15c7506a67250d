"""Simulated devices that speak the real devices' protocols.

HaaS's drivers are tested against these, never against a mock inside the
driver: a simulated switch is an SSH server with the vendor's prompts,
modes and `show` output, or an HTTP server with the vendor's REST paths and
XML, so that a client that is not HaaS (paramiko, `ssh`, curl) sees the
same device.  Operators run them with `haas-admin simulate switch` to try
HaaS without hardware.

`MODELS` maps a model name to ``'module:function'``.  The function is
called as ``serve(host, port, state_dir, username, password, latency)``;
it serves one device until SIGTERM or SIGINT, keeping the device's state
(VLANs per port, native VLAN, shutdown, saved configuration) in
`state_dir`, so that it survives a restart, and waiting `latency` seconds
before answering each command, as real switches take their time.  It
prints one line to standard output once it listens (``listening on
HOST:PORT``), which is what tests and scripts wait for.
"""

#: Model name -> 'module:function' (see above).  A model written on the SSH
#: framework (haas.simulators.ssh and .cli; powerconnect.py is one) or on
#: the HTTP one (haas.simulators.http; brocade.py) adds its line here.
MODELS: dict[str, str] = {
    'brocade': 'haas.simulators.brocade:serve',
    'dellnos9': 'haas.simulators.dellnos9:serve',
    'nexus': 'haas.simulators.nexus:serve',
    'powerconnect55xx': 'haas.simulators.powerconnect:serve',
    'n3000': 'haas.simulators.n3000:serve',
}

#: The models whose serve function also takes ``telnet=(host, port)``,
#: serving the same device over telnet there: those that print their own
#: login prompts, as telnet has no login of its own.
TELNET = {'powerconnect55xx'}


def server(model: str):
    """The serve function of `model` (a name of MODELS)."""
    import importlib
    module, _, function = MODELS[model].partition(':')
    return getattr(importlib.import_module(module), function)
