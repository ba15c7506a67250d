"""The `haas-admin` command line: thin Click wrappers over library functions."""

import click
import sqlalchemy.exc

from haas.errors import HaasError


def _one_line(text):
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else type(text).__name__


class HaasGroup(click.Group):
    """A group that reports operator errors in one line, without traceback.

    Library code raises; this is the one place that turns an error an
    operator can fix into "Error: ..." and exit status 1.
    """

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except HaasError as e:
            raise click.ClickException(str(e)) from None
        except sqlalchemy.exc.OperationalError as e:
            raise click.ClickException(
                f'cannot use the database: {_one_line(e.orig)}') from None
        except sqlalchemy.exc.DBAPIError as e:
            raise click.ClickException(
                f'the database refused: {_one_line(e.orig)}') from None
        except sqlalchemy.exc.ArgumentError as e:
            raise click.ClickException(
                f'bad [database] uri: {_one_line(e)}') from None
