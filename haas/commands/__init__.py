"""The `haas-admin` command line: thin Click wrappers over library functions.

Only Click is imported with the commands: the configuration, the
application, SQLAlchemy and the extensions are loaded when a command runs,
so that `--help` answers at once and needs neither a configuration nor a
database.  This module is the executable's entry point (`run`); the
commands (admin.py, db.py) build on haas.commands.base.
"""

import atexit
import gc
import os
import sys
import threading

# The commands import what they share from haas.commands.base, below this
# entry point; these names stay importable from here.
from haas.commands.base import (  # noqa: F401
    HaasCommand,
    HaasGroup,
    Script,
    app_context,
    explain,
    haas_config,
    help_of,
    summary,
    with_app,
    with_config,
)


def run():
    """The `haas-admin` executable."""
    from haas.commands.admin import main
    script = Script(process=True)
    try:
        main(obj=script)
        code = 0  # not reached: Click ends its main with SystemExit
    except SystemExit as e:
        code = e.code
    finally:
        # Whatever the command held (connections, locks, files) its context
        # managers have released; the interpreter's teardown would only
        # collect, once more, objects that the exit frees anyway.
        gc.freeze()
    script.close()
    _exit(code)


def _exit(code):
    """End the process with `code`, as sys.exit would, less the teardown.

    The interpreter's finalization takes a few tens of milliseconds to free
    each of the hundred thousand objects of the modules and the app, which
    exiting frees at once.  The atexit functions still run, and standard
    output and error are flushed.  A process with threads still running
    exits the usual way, which waits for them.
    """
    run_exit_functions = getattr(atexit, '_run_exitfuncs', None)
    if run_exit_functions is None or threading.active_count() > 1:
        sys.exit(code)
    run_exit_functions()
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            status = status or 120  # as Python exits when it cannot flush
    os._exit(status)
