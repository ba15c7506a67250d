"""HaaS's schema management: one Alembic branch per owner of tables.

`paths` maps a branch (core `haas`, or an extension's module name) to the
folder of its version scripts.  The functions below are the verbs of
`haas-admin db`: each docstring is that command's manual, its first
paragraph the summary.  They import SQLAlchemy and Alembic only when
called, so that `haas-admin --help` starts fast, and they raise
MigrationError or DatabaseError with a message that says what to do.

Verbs that touch the database run inside the HaaS application's context;
`heads`, `branches`, `show` and `history` need only the configuration.
"""

# The registry lives in its own module, which the library's modules
# import; these names are the same objects, for extension authors
# (``haas.migrations.paths[__name__] = ...``).
from haas.migrations.registry import (  # noqa: F401
    BUILT_IN,
    CORE,
    LEDGER,
    MIGRATIONS_DIR,
    paths,
)


def init_app(app):
    """Attach Flask-Migrate to `app`, with HaaS's environment and branches."""
    from haas.migrations import integration, ledger  # noqa: F401 (its table)
    integration.init_app(app)


def _schema():
    from haas.migrations.schema import Schema
    return Schema.current()


def _branches(config=None):
    from haas.migrations.scripts import Branches
    if config is None:
        from flask import current_app
        config = current_app.extensions['haas'].config
    return Branches(config.extensions)


# --- for operators ------------------------------------------------------

def status(wait=None, clients=False):
    """Show, per branch, where the database is and what it needs.

    One row per branch: its label, the extension that owns it, whether that
    extension is enabled, the revision in the database, the head in the
    code, how many revisions are pending, and a verdict:

    \b
      up to date        at its head
      behind            revisions to run: `upgrade heads`
      not created       no tables yet: `create`
      adoptable         tables without a version row, matching a revision:
                        `upgrade heads` (or `create`) stamps that revision
                        and goes on from there
      mismatch          tables with the branch's names that match none of
                        its revisions: no command touches them
      orphaned          stamped, but its extension is no longer enabled or
                        installed: enable it again, or `forget` it
      unknown revision  stamped at a revision no installed script has: a
                        newer release wrote it

    It also shows who holds the schema lock, if anyone, and the tables
    that belong to no branch.  Exits 0 only when every enabled branch is
    at its head; --wait SECONDS checks again every second until it is, for
    at most that long (for a deploy script that starts servers).

    The phase of an online upgrade (UPGRADING.rst) is shown too:
    `expanded` while the next release's expand revisions ran and its
    contract did not (the servers of both releases run), `contracted` once
    every branch is at its head.  With --clients, and always while the
    database is expanded, it lists the other connections to the database
    (PostgreSQL), with the HaaS release each names: one that names none may
    be a server of a release before 0.4.

    Returns a haas.migrations.state.Status.
    """
    return _schema().status(wait, clients=clients)


def create(lock_wait=None):
    """Create the tables of core and of every enabled extension.

    Creates the tables of every branch that has none yet, straight from
    the models, stamps each of those branches at its head and fills the
    network allocator's pool, in one transaction.  Branches whose tables
    exist without a version row (HaaS 0.2, or a row dropped by hand) are
    adopted first, as `upgrade` adopts them.  On an initialised database it
    changes nothing but adding allocator entries that the configuration
    gained; after an extension is enabled it creates only that extension's
    tables.  It refuses while a branch is behind its head (`upgrade
    heads` comes first).

    Makes the key file of [secrets] where there is none and the database
    holds no password yet (a new installation).

    Returns the branches it created or adopted.
    """
    schema = _schema()
    created = schema.create(lock_wait)
    schema.provide_key_file()
    return created


def upgrade(revision='heads', extension=None, plan=False, lock_wait=None,
            checkpoints=True, phase=None, force=False):
    """Upgrade the database to REVISION; by default every branch's head.

    This is how an operator brings any HaaS database up to date, including
    one from HaaS 0.2, from before schema versioning.  A branch whose tables
    exist without a version row is adopted: HaaS finds the revision its
    tables match, stamps it and goes on from there; tables that match no
    revision are refused, with the differences.  Each revision runs in its
    own transaction, so a failure leaves the database at the last revision
    that completed, and the error names the script.  Once every branch is
    at its head the network allocator's pool is filled, as `create` does.

    With --to-release RELEASE (such as 0.3) each of HaaS's own branches
    stops at that release's revision; `status` names the release a
    database is at.  With --extension MODULE only that branch is upgraded,
    with what it depends on.  With --plan nothing runs: every script that
    would run is listed, in order; --sql prints the statements instead,
    from nothing (or from START in START:END), or with --plan from where
    the database is.  Makes the key file of [secrets], as `create` does,
    where there is none and the database holds no password.

    A branch without tables whose history has a checkpoint (see
    `checkpoint`) is built from it, in place of the revisions it replaces;
    with --no-checkpoints every revision runs.

    With --phase expand|contract the upgrade runs while the servers of the
    previous release serve (UPGRADING.rst; PostgreSQL only): `expand`
    runs the expand revisions of every branch, in dependency order, each
    under a short lock_timeout ([migrations] expand_lock_timeout, 0.5 s)
    retried many times ([migrations] expand_lock_retries), and records
    them apart, so that the previous release's servers keep accepting the
    database; this release's servers accept it too.  `contract` runs the
    rest, and refuses while a connection to the database may be a server
    of the previous release, unless --force.
    """
    schema = _schema()
    schema.checkpoints = checkpoints
    if phase is not None:
        result = schema.upgrade_phase(phase, force, plan, lock_wait)
    else:
        result = schema.upgrade(revision, extension, plan, lock_wait)
    if not plan:
        schema.provide_key_file()
    return result


def release_target(name):
    """The target of `upgrade --to-release NAME`: each of HaaS's branches
    at release NAME's revision (haas.migrations.releases); the ledger and
    other packages' extensions are not part of a release.  MigrationError
    if HaaS has no such release."""
    from haas.migrations.releases import Release
    return Release(name)


def upgrade_sql(revision='heads', extension=None, plan=False, output=None,
                checkpoints=True):
    """Write the SQL of an upgrade instead of running it.

    From nothing, or from the start of a `START:END` range; with `plan`,
    from the revisions the database is at.
    """
    schema = _schema()
    schema.checkpoints = checkpoints
    return schema.upgrade_sql(revision, extension, plan, output)


def downgrade(revision, extension=None, plan=False, cascade=False,
              lock_wait=None):
    """Revert the database to REVISION, such as <branch>@-1 or <branch>@base.

    A downgrade that would take other branches with it, because they
    depend on the revisions it removes, is refused and names them;
    --cascade downgrades them first, and says so.  --extension MODULE makes
    REVISION relative to that branch (`--extension haas.ext.obm.mock
    base`).  With --plan nothing runs: the scripts that would run are
    listed, in order; --sql prints their statements (for a START:END range
    without reading the database).
    """
    return _schema().downgrade(revision, extension, plan, cascade, lock_wait)


def downgrade_sql(revision, extension=None, output=None):
    """Write the SQL of a downgrade: of a START:END range without the
    database, else from the revisions the database is at."""
    return _schema().downgrade_sql(revision, extension, output)


def forget(name, drop_tables=False, lock_wait=None):
    """Remove an orphaned branch's version row, and its tables if asked.

    NAME is the branch (the extension's module name) or the revision that
    `status` shows as orphaned; its extension must not be enabled.  With
    --drop-tables its tables are dropped too, but only when no other table
    refers to them.

    Returns the tables dropped.
    """
    return _schema().forget(name, drop_tables, lock_wait)


def log(extension=None):
    """Show the migration ledger: what ran on this database, and when.

    One row per revision applied or reverted (with how long it took, the
    HaaS version that ran it, and the error of one that failed), per stamp,
    per branch that `create` made, and per change accepted with `verify
    --accept`.  Revisions a database had before it had a ledger are listed
    as "before ledger".  --extension MODULE lists only that branch's rows;
    it may name a branch whose extension is no longer enabled.

    Returns the rows as dicts, oldest first.
    """
    return _schema().log(extension)


def verify(accept=None, reason=None):
    """Check that every applied script is the code that ran.

    The ledger keeps a fingerprint of each script as it ran (of its code,
    not of its bytes: reformatting it or editing its comments changes
    nothing).  `verify` lists every applied revision whose script has
    changed since, with its branch and file, and exits 1 when it finds
    one.  `upgrade` makes the same check first, and refuses, or only warns
    with `[migrations] verify = warn`.  After reviewing a change, --accept
    REVISION --reason TEXT records it in the ledger, which then takes the
    script as it is now.

    Returns (changes, how many applied revisions were checked), or with
    --accept the change accepted.
    """
    if accept is not None:
        return _schema().accept(accept, reason)
    return _schema().verify()


def lint(since=None, extension=None, postgresql_version=None, trace=False):
    """Flag what pending revisions would lock or rewrite on a busy table.

    Each revision's PostgreSQL SQL is rendered offline and every statement
    parsed with PostgreSQL's own grammar, for: an index built without
    CONCURRENTLY on an existing table, a NOT NULL column added without a
    default, a column type change that rewrites the table (a longer
    varchar, or varchar to text, does not), a foreign key or check added
    without NOT VALID, a rename or drop that breaks the code still
    running, a DROP TABLE of a table with rows, a column added with a
    volatile default, SET NOT NULL without a validated check, a lock taken
    without lock_timeout; and its script for a data migration written as a
    Python loop over rows.  The run starts from the tables the database
    has, so a baseline that adopts them does not make them new.  Each
    finding names the revision, its branch, the rule and the statement.  A
    revision waives a rule with a reason in its own `lint_waivers = {rule:
    reason}`; waived findings are listed with their reason and do not
    count.  Exits 1 on a finding that is not waived.

    What depends on PostgreSQL's version is judged for the connected
    server's, or for --postgresql-version (12 without a database).

    By default the revisions pending on the database are read; --since
    REVISION reads those after it on its branch, without a database, as an
    extension's CI would for its new scripts; --extension MODULE narrows
    either to one branch.

    --trace (PostgreSQL only) also runs the pending revisions on the
    database inside one transaction that is rolled back, and lists per
    statement the locks it took and the tables it rewrote.  It holds those
    locks until it is done: run it where a pause of the servers is fine.

    Returns (the findings, how many revisions were read, the traced
    statements with --trace, else None).
    """
    return _schema().lint(since, extension, postgresql_version, trace)


def stamp(revision='heads', purge=False, sql=False, output=None,
          lock_wait=None):
    """Record REVISION in the database without running any migration.

    For repairs only: a wrong stamp makes HaaS believe a schema it does not
    have.  --purge deletes every version row first.
    """
    return _schema().stamp(revision, purge, sql, output, lock_wait)


def require_current_schema(contracted=False):
    """DatabaseError unless every enabled branch is at its head, or the
    database is expanded for this release (haas.migrations.phases); with
    `contracted`, only the former (what the networking daemon needs: the
    previous release's runs until the contract)."""
    _schema().require_current(contracted)


# --- reading the code -------------------------------------------------------

def heads(config=None, verbose=False, resolve_dependencies=False):
    """Show the head of each enabled branch, as the code has them."""
    from alembic import command

    from haas.migrations.scripts import revision_errors
    branches = _branches(config)
    with revision_errors(branches, 'heads'):
        command.heads(branches.config, verbose=verbose,
                      resolve_dependencies=resolve_dependencies)


def branches(config=None, verbose=False):
    """Show revisions where a branch's history forks (normally none)."""
    from alembic import command

    from haas.migrations.scripts import revision_errors
    branches = _branches(config)
    with revision_errors(branches, 'branches'):
        command.branches(branches.config, verbose=verbose)


def show(revisions=(), config=None):
    """Show revisions' details; by default every branch's head."""
    from haas.migrations import reading
    reading.show(_branches(config), revisions)


def history(config=None, rev_range=None, extension=None, verbose=False,
            indicate_current=False):
    """List the revisions of every enabled branch, newest first."""
    from haas.migrations import reading
    reading.history(_branches(config), rev_range, extension, verbose,
                    indicate_current)


def current(extension=None, verbose=False):
    """Show the revision each branch of the database is at."""
    from haas.migrations import reading
    reading.current(_schema(), extension, verbose)


def check():
    """Check the scripts, the models and the database; list every problem.

    On the code side: every branch has exactly one head, no fork or merge
    inside a branch, no `depends_on` that is missing or circular, branch
    labels where they belong, and no difference between the models and
    what the scripts build (a model change without its script), and each
    checkpoint still equal to the revisions it replaces.  On the
    database side: every enabled branch is at its head, and no version row
    is left by an extension that is no longer enabled.

    Returns the problems, one line each; none means all is well.
    """
    from haas.migrations import checks
    return checks.check(_schema())


# --- writing scripts ---------------------------------------------------------

def checkpoint(extension, postgresql, release=None, revision=None,
               output=None):
    """Write a checkpoint: one script that builds a branch's schema at a
    release (--release X) or a revision (--revision R) at once.

    An upgrade of a branch that has no tables yet runs it in place of the
    revisions up to that point, then stamps the revision; a database at
    any of those revisions goes on through the history, and the revisions
    after it follow either way.  The script is written from what the
    history builds there on a scratch SQLite database and on a scratch
    PostgreSQL database (made with `postgresql()`, which returns the URL
    of a new empty one): tables, types, sequences, constraints, indexes and
    the rows its data migrations insert.  It goes to the branch's folder,
    `checkpoints/<revision>_checkpoint.py`, or to --output.  `db check`
    proves each committed checkpoint still equal to its history.

    Returns the path written.
    """
    from haas.migrations import checkpoints
    branches = _branches()
    branch = branches.require(extension)
    target = checkpoints.target(branches, branch, release, revision)
    return checkpoints.write(branches, branch, target, postgresql, release,
                             output)


def revision(message=None, autogenerate=False, sql=False, head=None,
             splice=False, branch_label=None, version_path=None, rev_id=None):
    """Write a new migration script: empty, or a draft with --autogenerate.

    To start a new branch give --branch-label <module>: the script is
    based on `base` and written to the folder the module registered in
    `haas.migrations.paths`, unless --version-path says otherwise.
    Otherwise --head <branch>@head names the branch to extend.
    """
    from haas.migrations import writing
    return writing.revision(message, autogenerate, sql, head, splice,
                            branch_label, version_path, rev_id)


def migrate(message=None, sql=False, head=None, splice=False,
            branch_label=None, version_path=None, rev_id=None):
    """Write a draft migration script for one branch from the models.

    The script holds only the changes to the tables of that branch and is a
    draft to review.  When the models and the database agree, no script is
    written.
    """
    from haas.migrations import writing
    return writing.revision(message, True, sql, head, splice, branch_label,
                            version_path, rev_id)


def edit(revision):
    """Open a revision's script in $EDITOR."""
    from haas.migrations import writing
    writing.edit(revision)


def merge(revisions, message=None, branch_label=None, rev_id=None):
    """Write a script that merges two heads that grew on one branch.

    HaaS never merges branches of different extensions.
    """
    from haas.migrations import writing
    return writing.merge(revisions, message, branch_label, rev_id)


def schema_snapshot(connection):
    """Everything about the schema two databases must agree on, as data."""
    from haas.migrations import snapshot
    return snapshot.schema_snapshot(connection)
