"""What the drivers of switches configured over a command line share
(Dell PowerConnect, and the models that follow it), over SSH or telnet.

- `expect.Terminal`: a small expect loop: send a line, read up to a
  prompt, with bounded timeouts, the device's ``%`` error lines as
  SwitchError and a lost or silent connection as SwitchUnavailableError;
  over `console.Console`, one SSH session's interactive channel
  (paramiko), or `telnet.TelnetConsole`, one telnet connection
  (telnetlib3).
- `session.VlanSession`: a SwitchSession (haas.drivers) that turns
  HaaS's channels into a port's native and tagged VLANs, in the order
  operators want (native attached first and removed last, a port
  carrying nothing shut down or parked, never left on VLAN 1), over a
  few commands a driver names for its device.

A package, not a module, so that haas/ext/switches/ holds only
extensions.
"""
