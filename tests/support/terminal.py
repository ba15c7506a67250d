"""A person at a simulated switch's terminal: paramiko's interactive
shell and nothing of HaaS, to see a device as any SSH client does."""

import re
import socket
import time

import paramiko

#: The end of what the device prints when it waits for a command.
PROMPT = re.compile(r'[\r\n]?[\w.-]+(?:\([\w-]+\))?[>#] ?$')


class Screen:
    """What a person at a device's terminal does, over any transport: a
    subclass sends keys (`type`) and receives text (`_receive`)."""

    #: What the Enter key sends.
    ENTER = '\r'

    def log_in(self, username, password):
        self.read_until('User Name:')
        self.type(username + self.ENTER)
        self.read_until('Password:')
        self.type(password + self.ENTER)
        self.read_until(PROMPT)

    def type(self, keys):
        raise NotImplementedError

    def _receive(self, seconds):
        """Text the device sent within `seconds` ('' if none); EOFError
        when it closed the session."""
        raise NotImplementedError

    def read_until(self, pattern, seconds=10):
        """What the device printed up to `pattern` (a str or a regex),
        that included."""
        if isinstance(pattern, str):
            pattern = re.compile(re.escape(pattern))
        deadline = time.monotonic() + seconds
        while not (match := pattern.search(self.seen)):
            assert time.monotonic() < deadline, \
                f'no {pattern.pattern!r} in {self.seen!r}'
            self.seen += self._receive(max(deadline - time.monotonic(),
                                           0.01))
        found, self.seen = self.seen[:match.end()], self.seen[match.end():]
        return found

    def run(self, line):
        """Type `line` and Enter; the lines the device answered before
        its next prompt (the echo of `line` left out)."""
        self.type(line + self.ENTER)
        lines = self.read_until(PROMPT).split('\r\n')
        assert lines[0] == line, lines
        return lines[1:-1]


class Terminal(Screen):
    """An SSH session at `address`, logged in and at the first prompt."""

    def __init__(self, address, username='admin', password='secret',
                 login=True):
        self.client = paramiko.SSHClient()
        self.client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        self.client.connect(*address, username=username, password=password,
                            look_for_keys=False, allow_agent=False,
                            timeout=10)
        self.host_key = self.client.get_transport().get_remote_server_key()
        self.channel = self.client.invoke_shell()
        self.seen = ''
        if login:
            self.log_in(username, password)

    def type(self, keys):
        self.channel.sendall(keys.encode())

    def _receive(self, seconds):
        self.channel.settimeout(seconds)
        try:
            data = self.channel.recv(65536)
        except socket.timeout:
            return ''
        if not data:
            raise EOFError(self.seen)
        return data.decode()

    def prompt(self):
        self.type('\r')
        return self.read_until(PROMPT).split('\r\n')[-1]

    def close(self):
        self.client.close()
