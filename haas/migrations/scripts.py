"""The branches as the code has them: folders, scripts, heads and order.

This reads the configuration and the version scripts only: no models, no
engine, no connection, so that `db heads` and `db history` start fast.

An extension's scripts are where it registers them, in
`haas.migrations.paths`, and `folder_of` is the one place that says where
that is.  So that reading the scripts needs no models, it does not import
an extension whose scripts are in the conventional folder
(`conventional_folder`): an extension that registered another folder while
that one holds scripts is refused wherever it is imported, so the folder
found without importing it is always the one it registers.
"""

import argparse
import contextlib
import functools
import hashlib
import importlib
import importlib.util
import os
import sys
import warnings
import weakref

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from alembic.script.revision import (
    MultipleHeads,
    RangeNotAncestorError,
    ResolutionError,
    RevisionError,
)
from alembic.util import CommandError, to_tuple

from haas.errors import MigrationError, squashed
from haas.extensions import load as load_extension
from haas.migrations import alembic_private
from haas.migrations.registry import (
    BUILT_IN,
    MIGRATIONS_DIR,
    conventional_folder,
    paths,
    registered_folder,
)


def _owns(extension, branch):
    return branch == extension or branch.startswith(extension + '.')


def owner(name, candidates):
    """The longest of `candidates` that is `name` or a package of it, or
    None: the module `haas.ext.obm.mock` belongs to `haas.ext.obm.mock`."""
    owners = [c for c in candidates if _owns(c, name)]
    return max(owners, key=len) if owners else None


def installed(module):
    """Whether a new process could import `module`: a finder of
    sys.meta_path finds it now (a module imported earlier, whose files are
    gone, is not installed)."""
    parent, _, _ = module.rpartition('.')
    try:
        path = None
        if parent:
            spec = importlib.util.find_spec(parent)
            if spec is None:
                return False
            path = spec.submodule_search_locations
        # Every finder an import would ask, not sys.path's alone: an
        # editable install (`pip install -e`) is found by a finder of its
        # own.  importlib.util.find_spec would answer from sys.modules.
        return any(finder.find_spec(module, path) is not None
                   for finder in sys.meta_path
                   if hasattr(finder, 'find_spec'))
    except (ImportError, ValueError):
        return False


def folder_of(extension, load=load_extension):
    """The branches of `extension` and their folders: {branch: folder}.

    An extension not imported yet whose conventional folder holds scripts
    is not imported (see the module's docstring); any other is imported
    with `load`, and answers with what it registered in `paths`.  An
    extension that registered its own branch's scripts elsewhere than a
    conventional folder that holds some is refused (ExtensionError): the
    answer would depend on whether it was imported.
    """
    conventional = conventional_folder(extension)
    if extension not in sys.modules:
        if conventional is not None:
            return {extension: conventional}
        load(extension)
    registered = registered_folder(extension, conventional)
    found = {branch: folder for branch, folder in paths.items()
             if branch not in BUILT_IN and _owns(extension, branch)}
    if conventional is not None and registered is None:
        found[extension] = conventional
    return found


def enabled_folders(extensions):
    """Map core and each enabled branch to the folder of its scripts.

    HaaS's own branches first (core, the ledger), then the extensions in
    the order of [extensions].
    """
    folders = {branch: paths[branch] for branch in BUILT_IN}
    for extension in extensions:
        folders.update(folder_of(extension))
    return folders


def extension_of(branch, extensions):
    """The enabled extension that owns `branch` (HaaS owns its own)."""
    if branch in BUILT_IN:
        return branch
    return owner(branch, extensions) or branch


def alembic_config(folders):
    """An Alembic configuration for HaaS's environment and `folders`."""
    # Alembic's default stdout is the one at its import; a command must
    # print to the stdout of its own run (Click's runner replaces it).
    config = AlembicConfig(os.path.join(MIGRATIONS_DIR, 'alembic.ini'),
                           stdout=sys.stdout)
    config.set_main_option('script_location', MIGRATIONS_DIR)
    config.set_main_option('path_separator', 'os')
    # ConfigParser interpolates '%'; a folder name may contain one.
    config.set_main_option('version_locations', os.pathsep.join(
        folders.values()).replace('%', '%%'))
    # What Flask-Migrate's commands give env.py; `revision` sets it.
    config.cmd_opts = argparse.Namespace(autogenerate=False, x=[])
    return config


#: (folders) -> (what their files held, Alembic's ScriptDirectory over
#: them): see script_directory.
_read = {}


def _contents(folders):
    """A digest of the names and bytes of the scripts in `folders`."""
    digest = hashlib.blake2b(digest_size=16)
    for folder in folders:
        try:
            names = sorted(n for n in os.listdir(folder)
                           if n.endswith('.py'))
        except OSError:
            names = []
        digest.update(f'{folder}\0{len(names)}\0'.encode())
        for name in names:
            path = os.path.join(folder, name)
            try:
                with open(path, 'rb') as f:
                    data = f.read()
            except OSError:  # gone meanwhile
                data = b''
            digest.update(f'{name}\0{len(data)}\0'.encode() + data)
    return digest.digest()


def script_directory(config, folders):
    """Alembic's ScriptDirectory for `config`, over `folders`.

    Alembic reads and compiles every script each time its map of
    revisions is built; a process that runs several commands (a server's
    checks, `haas.testing`, a test suite) would do it for each.  So the
    directory is kept, with its map, while the folders' files hold the
    same bytes: a script written, edited or removed since is read again.
    Comparing contents, not times, sees an edit within the same tick of
    the file system's clock.
    """
    key = tuple(folders.values())
    contents = _contents(key)
    found = _read.get(key)
    if found is None or found[0] != contents:
        found = _read[key] = (contents, ScriptDirectory.from_config(config))
    return found[1]


#: ScriptDirectory -> {question: answer}, for Branches.remembered: what
#: version rows imply (walks of the revision graph), the adoption probe's
#: schemas.  The answers follow from the scripts and the enabled folders
#: alone, the directory is one object while its files hold the same
#: bytes (script_directory), and every reading of a database's state
#: asks them again, for every row.
_answers = weakref.WeakKeyDictionary()


class Branches:
    """The enabled branches, their scripts and their heads.

    Built from the extension list alone; `folders` maps each branch to its
    folder, `script` is Alembic's ScriptDirectory over all of them.
    """

    def __init__(self, extensions):
        self.extensions = list(extensions)
        self.folders = enabled_folders(self.extensions)
        self.config = alembic_config(self.folders)
        self.script = script_directory(self.config, self.folders)

    def remembered(self, question, compute):
        """The answer to `question` (hashable) about these scripts,
        computed by `compute` once per script directory and enabled
        folders."""
        answers = _answers.setdefault(self.script, {})
        key = (tuple(self.folders.items()), question)
        if key not in answers:
            answers[key] = compute()
        return answers[key]

    def recalled(self, question):
        """The answer to `question` that `remembered` keeps, or None."""
        return _answers.get(self.script, {}).get(
            (tuple(self.folders.items()), question))

    @property
    def names(self):
        return list(self.folders)

    def extension_of(self, branch):
        return extension_of(branch, self.extensions)

    def require(self, branch):
        """`branch`, if it is enabled; else MigrationError."""
        if branch not in self.folders:
            raise MigrationError(
                f'{branch} is not the branch of an enabled extension '
                f'(branches: {", ".join(self.names)})')
        return branch

    def legacy_tables(self, branch):
        """The tables the branch's first script adopts: {legacy: today's
        name}, or None when it adopts none (see adopt.LEGACY_TABLES)."""
        scripts = self.by_branch[branch]
        return getattr(scripts[0].module, 'legacy_tables', None) \
            if scripts else None

    def redundant(self, rows):
        """The rows among `rows` (all known) that others already imply."""
        return [row for row in rows
                if any(row in self._implied(other)
                       for other in rows if other != row)]

    def _implied(self, revision):
        """The ids of every revision that `revision` implies, itself
        included."""
        return self.remembered(('implied', revision), lambda: frozenset(
            s.revision for s in alembic_private.ancestors(
                self.script, [self.revisions[revision]])))

    @functools.cached_property
    def revisions(self):
        """Revision id -> Alembic Script, for every script of every branch.

        Raises MigrationError when the scripts cannot form a history (a
        cycle, a `down_revision` or `depends_on` that does not exist).
        """
        try:
            with warnings.catch_warnings():
                # Alembic warns about a missing down_revision, then fails:
                # the failure below says it once.
                warnings.simplefilter('ignore')
                return {s.revision: s for s in self.script.walk_revisions()}
        except (CommandError, RevisionError) as e:
            # walk_revisions re-raises a RevisionError as a CommandError.
            cause = e.__cause__ if isinstance(e, CommandError) else e
            if not isinstance(cause, RevisionError):
                # A file in a folder of scripts that is not one (no
                # `revision` in it, say).
                raise MigrationError(f'the migration scripts cannot be '
                                     f'read: {squashed(e)}') from None
            raise MigrationError(f'the migration scripts do not form a '
                                 f'history: {squashed(cause)}') from None
        except KeyError as e:
            # Alembic looks up every id a script names in its map: one that
            # no script has surfaces as a bare KeyError.
            missing = e.args[0]
            referrers = sorted(
                s.revision for s in alembic_private.load_scripts(self.script)
                if missing in to_tuple(s.down_revision, ())
                + to_tuple(s.dependencies, ()))
            raise MigrationError(
                f'the migration scripts do not form a history: revision '
                f'{", ".join(referrers) or "?"} names {missing} as its '
                f'down_revision or depends_on, and no script has it'
            ) from None

    def branch_of(self, revision):
        """The enabled branch that `revision` (an id) belongs to, or None."""
        script = self.revisions.get(revision)
        if script is None:
            return None
        return _labelled(script, self.folders)

    @functools.cached_property
    def by_branch(self):
        """Branch -> its revisions in order, first to last."""
        order = {b: [] for b in self.folders}
        for script in reversed(list(self.revisions.values())):
            branch = self.branch_of(script.revision)
            if branch is not None:
                order[branch].append(script)
        return order

    @functools.cached_property
    def heads(self):
        """Branch -> its head revision id, or None for a branch without
        scripts.  A branch whose history forked is an error."""
        heads = {}
        for branch in self.folders:
            if not self.by_branch[branch]:
                heads[branch] = None
                continue
            try:
                head, = self.script.revision_map.get_revisions(
                    f'{branch}@head')
            except MultipleHeads as e:
                raise MigrationError(
                    f'branch {branch} has {len(e.heads)} heads '
                    f'({", ".join(sorted(e.heads))}): its history forked; '
                    f'give one of them the other as down_revision, or '
                    f'merge them with `haas-admin db merge`') from None
            heads[branch] = head.revision
        return heads

    def position(self, branch, revision):
        """How many revisions of `branch` lead up to and include
        `revision` (0 for None, i.e. base)."""
        if revision is None:
            return 0
        return self._positions[branch][revision]

    @functools.cached_property
    def _positions(self):
        return {branch: {s.revision: i for i, s in enumerate(scripts, 1)}
                for branch, scripts in self.by_branch.items()}

    def pending(self, branch, revision):
        """How many revisions of `branch` follow `revision`."""
        return len(self.by_branch[branch]) - self.position(branch, revision)

    def effective(self, rows):
        """Branch -> revision, for the version rows `rows` (all known).

        A version row implies the revisions it depends on: Alembic keeps no
        row for core's revision once an extension's revision that depends
        on it is stamped.
        """
        # Read through `revisions` first, even for no rows: a history that
        # cannot be read then fails in words, not in Alembic's KeyError.
        if not self.revisions:
            return {}
        rows = tuple(rows)
        return dict(self.remembered(('effective', rows),
                                     lambda: self._effective(rows)))

    def _effective(self, rows):
        found = {}
        for script in self.script.get_all_current(rows):
            branch = self.branch_of(script.revision)
            if branch is None:
                continue
            if self.position(branch, script.revision) > self.position(
                    branch, found.get(branch)):
                found[branch] = script.revision
        return found

    def requires(self, revision):
        """Revisions of other branches that `revision` implies, one per
        branch (the latest): what its version row stands for besides
        itself."""
        return dict(self.remembered(('requires', revision),
                                     lambda: self._requires(revision)))

    def _requires(self, revision):
        branch = self.branch_of(revision)
        implied = {}
        for other_revision in self._implied(revision):
            other = self.branch_of(other_revision)
            if other is None or other == branch:
                continue
            if self.position(other, other_revision) > self.position(
                    other, implied.get(other)):
                implied[other] = other_revision
        return implied


def installed_extensions():
    """HaaS's own extension modules in this installation (haas.ext.*),
    found without importing them."""
    import pkgutil

    import haas.ext
    names = []
    for kind in pkgutil.iter_modules(haas.ext.__path__):
        if not kind.ispkg:
            continue
        package = importlib.import_module(f'haas.ext.{kind.name}')
        names += [f'haas.ext.{kind.name}.{m.name}'
                  for m in pkgutil.iter_modules(package.__path__)
                  if not m.ispkg]
    return names


def installed_branch_of():
    """Revision id -> branch, for the scripts of every installed HaaS
    extension, enabled or not: what names a row whose extension is
    disabled, in a database that has no labels yet."""
    folders = {branch: paths[branch] for branch in BUILT_IN}
    for name in installed_extensions():
        # A disabled extension is not imported: one without scripts in
        # its conventional folder has none to name.
        folders.update(folder_of(name, load=lambda name: None))
    script = script_directory(alembic_config(folders), folders)
    found = {}
    for revision in script.walk_revisions():
        branch = _labelled(revision, folders)
        if branch is not None:
            found[revision.revision] = branch
    return found


def _labelled(script, branches):
    """The branch among `branches` whose label `script` carries (Alembic
    gives a revision the labels of the revisions before it), or None."""
    labels = [b for b in branches if b in script.branch_labels]
    return max(labels, key=len) if labels else None


@contextlib.contextmanager
def revision_errors(branches, argument):
    """Alembic's revision errors as one line that names the fix."""
    names = ', '.join(sorted(branches.names))
    branches.revisions  # a broken history is said first, and in one line
    try:
        yield
    except (CommandError, RevisionError) as e:
        cause = e.__cause__ if isinstance(e, CommandError) and isinstance(
            e.__cause__, RevisionError) else e
        if isinstance(cause, MultipleHeads):
            raise MigrationError(
                f"'{argument}' stands for several heads "
                f"({', '.join(sorted(cause.heads))}): HaaS keeps one branch "
                f"per extension; use 'heads' for all of them or "
                f"'<branch>@head' for one (branches: {names})") from None
        if isinstance(cause, ResolutionError) and cause.argument not in \
                branches.folders and installed(cause.argument):
            raise MigrationError(
                f"'{argument}' names branch {cause.argument}, whose extension "
                f"is not enabled: add it to [extensions] first (branches: "
                f"{names})") from None
        if isinstance(cause, ResolutionError):
            raise MigrationError(
                f"unknown revision '{cause.argument}': see `haas-admin db "
                f"heads` and `haas-admin db history`; use 'heads' for every "
                f"branch or '<branch>@head' (branches: {names})") from None
        if isinstance(cause, RangeNotAncestorError):
            raise MigrationError(
                f"'{argument}': {cause.lower} is not below {cause.upper} in "
                f"any branch") from None
        raise MigrationError(f"'{argument}': "
                             f"{squashed(cause)}") from None
