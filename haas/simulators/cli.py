"""The command-line interpreter a simulated switch's SSH shell runs.

A model is a subclass of `Shell`: its prompts per mode, and its commands
as methods decorated with `command`, whose pattern the interpreter
matches the way switch CLIs do, each word by a unique abbreviation
(``show int sw gi1/0/5`` is ``show interfaces switchport gi1/0/5``)::

    class MySwitch(Shell):
        ports = ['gi1/0/1', ...]               # the device's port names
        prompts = {'exec': '{host}>', 'privileged': '{host}#',
                   'config': '{host}(config)#',
                   'config-if': '{host}(config-if)#'}
        unrecognized = ['% Unrecognized command']

        @command('show vlan', modes=('exec', 'privileged'))
        def show_vlan(self):
            return ['VLAN ...', ...]           # the lines it prints

        @command('interface {port}', modes=('config',))
        def interface(self, port):
            self.context['port'] = self.port_name(port)
            self.mode = 'config-if'

A pattern is words: a literal keyword, ``{name}`` (any one word, given to
the method as the argument `name`), or ``{name*}`` as the last word (the
rest of the line, a list).  A method returns the lines to print (or
None), raises `CLIError` with the device's error lines, or returns an
`Ask`, a question answered with one key (a confirmation).  The session
(haas.simulators.ssh) handles the SSH side: login, echo, paging of long
output (`paging`, which a model's ``terminal datadump`` or ``terminal
length 0`` turns off), latency; `state` is the device's SwitchState.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Sequence

from haas.simulators.state import SwitchState

#: What a command prints: lines, or nothing.
Output = typing.Optional[Sequence[str]]


class CLIError(Exception):
    """The device refused a command: `lines` are what it prints."""

    def __init__(self, *lines: str):
        super().__init__(*lines)
        self.lines = list(lines)


@dataclasses.dataclass
class Ask:
    """A question answered with one key: `then(yes)` gives the output."""
    question: str
    then: Callable[[bool], Output]


class Disconnect(Exception):
    """End the session (``exit`` at the first mode, ``reload``);
    `everyone`: every session of the device, as a reboot does."""

    def __init__(self, *lines: str, everyone: bool = False):
        super().__init__(*lines)
        self.lines = list(lines)
        self.everyone = everyone


@dataclasses.dataclass
class Command:
    words: tuple[str, ...]
    modes: tuple[str, ...]
    method: Callable[..., typing.Any]

    def argument(self, position: int) -> str | None:
        """The argument name of the word at `position`, or None for a
        keyword."""
        word = self.words[position]
        if word.startswith('{'):
            return word.strip('{}*')
        return None

    @property
    def rest(self) -> bool:
        return self.words[-1].endswith('*}')


def command(pattern: str, modes: Sequence[str]) -> Callable[
        [Callable[..., typing.Any]], Callable[..., typing.Any]]:
    """Declare a Shell method as the command `pattern` in `modes`."""
    def declare(method: Callable[..., typing.Any]) -> Callable[
            ..., typing.Any]:
        patterns = getattr(method, 'cli_commands', [])
        patterns.append((tuple(pattern.split()), tuple(modes)))
        method.cli_commands = patterns  # type: ignore[attr-defined]
        return method
    return declare


class Shell:
    """One session's interpreter; a model subclasses it (see above)."""

    #: The device's port names, as it writes them.
    ports: Sequence[str] = ()
    #: Mode -> prompt, `{host}` standing for `hostname`.
    prompts: dict[str, str] = {}
    #: The mode a session starts in, after login.
    first_mode = 'exec'
    hostname = 'console'
    #: Prompts of the login the device asks for inside the SSH session,
    #: after SSH's own authentication (over telnet, the whole login):
    #: (user, password), or None.
    login: tuple[str, str] | None = None
    #: What the device prints for a command it does not know, one that
    #: could be several, and one that lacks words.  `{caret}` stands for
    #: spaces up to the first word that matched nothing, and a caret.
    unrecognized: Sequence[str] = ('% Unrecognized command',)
    ambiguous: Sequence[str] = ('% Ambiguous command',)
    incomplete: Sequence[str] = ('% Incomplete command',)
    #: Lines per page of output while paging; the prompt between pages.
    page_lines = 24
    more = 'More: <space>,  Quit: q, One line: <return> '

    _commands: list[Command] = []

    def __init_subclass__(cls, **kwargs: typing.Any) -> None:
        super().__init_subclass__(**kwargs)
        table = []
        for klass in reversed(cls.__mro__):
            for method in vars(klass).values():
                for words, modes in getattr(method, 'cli_commands', []):
                    table.append(Command(words, modes, method))
        cls._commands = table

    def __init__(self, state: SwitchState):
        self.state = state
        self.mode = self.first_mode
        #: What a mode is about (the interface being configured...).
        self.context: dict[str, typing.Any] = {}
        self.paging = True

    def prompt(self) -> str:
        return self.prompts[self.mode].format(host=self.hostname)

    def execute(self, line: str) -> Output | Ask:
        """Run one line; CLIError if the device refuses it."""
        words = line.split()
        if not words:
            return None
        found, arguments = self.match(words)
        return found.method(self, **arguments)

    def match(self, words: Sequence[str]) -> tuple[
            Command, dict[str, typing.Any]]:
        """The command `words` abbreviate in this mode, and its
        arguments; CLIError with the device's lines otherwise."""
        candidates = [c for c in self._commands if self.mode in c.modes]
        for position, word in enumerate(words):
            keyword, argument = [], []
            for c in candidates:
                if position >= len(c.words):
                    if c.rest and position >= len(c.words) - 1:
                        argument.append(c)
                    continue
                if c.argument(position) is not None:
                    argument.append(c)
                elif c.words[position].startswith(word.lower()):
                    keyword.append(c)
            if keyword:
                exact = [c for c in keyword
                         if c.words[position] == word.lower()]
                if exact:
                    keyword = exact
                elif len({c.words[position] for c in keyword}) > 1:
                    raise CLIError(*self._error(self.ambiguous, words,
                                                position))
                candidates = keyword
            elif argument:
                candidates = argument
            else:
                raise CLIError(*self._error(self.unrecognized, words,
                                            position))
        complete = [c for c in candidates
                    if len(words) == len(c.words)
                    or (c.rest and len(words) >= len(c.words) - 1)]
        if not complete:
            raise CLIError(*self._error(self.incomplete, words,
                                        len(words)))
        found = complete[0]
        arguments: dict[str, typing.Any] = {}
        for position in range(len(found.words)):
            name = found.argument(position)
            if name is None:
                continue
            if found.rest and position == len(found.words) - 1:
                arguments[name] = list(words[position:])
            else:
                arguments[name] = words[position]
        return found, arguments

    def _error(self, lines: Sequence[str], words: Sequence[str],
               position: int) -> list[str]:
        # The caret under the first word that matched nothing, past the
        # prompt and the words before it.
        column = len(self.prompt()) + len(' '.join(words[:position])) + (
            1 if position else 0)
        return [line.format(caret=' ' * column + '^') for line in lines]
