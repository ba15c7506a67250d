"""What the commands of `haas-admin` share: the Script that loads the
configuration and the application on first use, the group that turns
operator errors into one line, and the help texts' shape.

Only Click is imported with them; see haas.commands.
"""

import contextlib
import functools
import gc
import inspect
import sys
import textwrap

import click


class Script:
    """What a command needs, made on first use: the configuration, then
    the application.  Under `flask --app haas`, Flask's ScriptInfo takes
    its place; both have `load_app`."""

    def __init__(self, config=None, process=False):
        """`process` says that this Script is its process's only one (the
        `haas-admin` executable), so that what it builds lives until exit."""
        self._config = config
        self._app = None
        self._process = process

    def load_config(self):
        if self._config is None:
            from haas import config
            self._config = config.load()
        return self._config

    def close(self):
        """Close the database connections of the app, if it was built."""
        if self._app is not None:
            from haas.model import db
            with self._app.app_context():
                for engine in db.engines.values():
                    engine.dispose()

    def load_app(self):
        if self._app is None:
            with (_lasting() if self._process else contextlib.nullcontext()):
                from haas.app import create_app
                self._app = create_app(self.load_config())
        return self._app


@contextlib.contextmanager
def _lasting():
    """Build what lives as long as the process: modules, models, the app.

    Python's cyclic garbage collector would otherwise walk that graph (about
    a hundred thousand objects, most of them SQLAlchemy's and Alembic's)
    again and again while the command runs, for nothing: none of it is
    garbage.  It is built with the collector off and then frozen, as
    `gc.freeze` documents, and the collector goes on with what the command
    itself allocates.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def _script():
    root = click.get_current_context().find_root()
    if root.obj is None:
        root.obj = Script()
    return root.obj


def haas_config():
    """The HaaS configuration, without building the application."""
    script = _script()
    if hasattr(script, 'load_config'):
        return script.load_config()
    return script.load_app().extensions['haas'].config


def app_context():
    return _script().load_app().app_context()


def with_app(f):
    """Run the command inside the HaaS application's context."""
    @functools.wraps(f)
    def run(*args, **kwargs):
        with app_context():
            return f(*args, **kwargs)
    return run


def with_config(f):
    """Pass the HaaS configuration as `config`, without building the app."""
    @functools.wraps(f)
    def run(*args, **kwargs):
        return f(*args, config=haas_config(), **kwargs)
    return run


def help_of(function):
    """A command's help from its function's docstring, without the
    paragraphs that start with "Returns", which are for callers in code."""
    text = inspect.cleandoc(function.__doc__ or '').replace('``', '`')
    return '\n\n'.join(p for p in text.split('\n\n')
                       if not p.startswith('Returns '))


def summary(text):
    """The first paragraph of a help text, on one line."""
    return ' '.join(inspect.cleandoc(text or '').split('\n\n', 1)[0].split())


def _wrap(text, width, indent):
    """Click's paragraph wrapping, but never inside `--an-option`: Click
    breaks lines at hyphens.  A paragraph that starts with \\b stays as it
    is written."""
    paragraphs = []
    for paragraph in text.split('\n\n'):
        if paragraph.startswith('\b\n'):
            paragraphs.append('\n'.join(indent + line for line in
                                        paragraph[2:].splitlines()))
        else:
            paragraphs.append(textwrap.fill(
                ' '.join(paragraph.split()), width, initial_indent=indent,
                subsequent_indent=indent, break_on_hyphens=False,
                break_long_words=False))
    return '\n\n'.join(paragraphs)


class HaasCommand(click.Command):
    """A command whose summary in its group's list is the first paragraph
    of its help, whole (Click cuts it at 45 characters), and whose help
    keeps option names whole."""

    def get_short_help_str(self, limit=45):
        return self.short_help or summary(self.help)

    def format_help_text(self, ctx, formatter):
        if self.help:
            formatter.write_paragraph()
            formatter.write(_wrap(inspect.cleandoc(self.help),
                                  max(formatter.width - 2, 20), '  ') + '\n')


def explain(error):
    """The one line an operator gets for `error`, or None for a bug."""
    from haas.errors import HaasError, first_line
    if isinstance(error, HaasError):
        return str(error)
    exc = sys.modules.get('sqlalchemy.exc')
    if exc is None:
        return None
    if isinstance(error, exc.OperationalError):
        return f'cannot use the database: {first_line(error.orig)}'
    if isinstance(error, exc.DBAPIError):
        return f'the database refused: {first_line(error.orig)}'
    if isinstance(error, exc.ArgumentError):
        return f'bad [database] uri: {first_line(error)}'
    return None


class HaasGroup(click.Group):
    """A group that reports operator errors in one line, without traceback.

    Library code raises; this is the one place that turns an error an
    operator can fix into "Error: ..." and exit status 1.
    """

    command_class = HaasCommand
    group_class = type
    get_short_help_str = HaasCommand.get_short_help_str
    format_help_text = HaasCommand.format_help_text

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.ClickException:
            raise
        except Exception as e:
            line = explain(e)
            if line is None:
                raise
            raise click.ClickException(line) from None
