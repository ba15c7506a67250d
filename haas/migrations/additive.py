"""`db lint`'s check that an expand revision only adds.

The previous release's servers run on what an expand revision leaves
(haas.migrations.phases), so its PostgreSQL SQL, rendered offline and
parsed as `db lint` reads it (haas.migrations.linting), must not drop,
rename, make a column NOT NULL, add one NOT NULL without a default, change
a column's type, or delete rows, on a table that a revision of the same run
did not create.  No waiver: a revision that must do one of these is a
contract revision.
"""

import dataclasses

from pglast import ast
from pglast.enums import AlterTableType, ConstrType, ObjectType

from haas.migrations import phases
from haas.migrations.linting import sql as parsing

RULES = {
    'expand-drops':
        'a drop (of a table, a column, a default) or a delete removes what '
        'the previous release reads or relies on',
    'expand-renames':
        'a rename breaks the previous release, which uses the old name',
    'expand-sets-not-null':
        'a NOT NULL column refuses the previous release\'s inserts that '
        'leave it out',
    'expand-changes-type':
        'a type change may give the previous release values it cannot read',
}
ADVICE = 'make it additive, or declare it phase = \'contract\''

#: What a drop may remove that the previous release uses.
_DROPPED = (ObjectType.OBJECT_TABLE, ObjectType.OBJECT_VIEW,
            ObjectType.OBJECT_SEQUENCE, ObjectType.OBJECT_TYPE)
#: ALTER TABLE commands that remove something: a column, its default,
#: identity or generation expression (not a constraint or a NOT NULL).
_REMOVING = (AlterTableType.AT_DropColumn, AlterTableType.AT_DropIdentity,
             AlterTableType.AT_DropExpression)


@dataclasses.dataclass
class Finding:
    """A statement of an expand revision that is not additive; as
    haas.migrations.linting's, never waived."""

    branch: str
    revision: str
    rule: str
    statement: str
    waived = False
    reason = None

    def as_dict(self):
        return {'branch': self.branch, 'revision': self.revision,
                'rule': self.rule, 'statement': self.statement,
                'waived': False, 'reason': None}

    def __str__(self):
        text = ' '.join(self.statement.split())
        if len(text) > 120:
            text = text[:117] + '...'
        return (f'{self.branch} {self.revision}: {self.rule}: '
                f'{RULES[self.rule]} ({ADVICE}): {text}')


def rules_of(node, created=()):
    """The rules parsed statement `node` breaks, on a table not in
    `created`."""
    if isinstance(node, ast.DropStmt):
        if node.removeType in _DROPPED and any(
                _last_name(o) not in created for o in node.objects):
            yield 'expand-drops'
    elif isinstance(node, (ast.DeleteStmt, ast.TruncateStmt)):
        relations = getattr(node, 'relations', None) or (node.relation,)
        if any(r.relname not in created for r in relations):
            yield 'expand-drops'
    elif isinstance(node, ast.RenameStmt):
        if node.relation is not None and node.relation.relname not in \
                created and node.renameType in (
                    ObjectType.OBJECT_TABLE, ObjectType.OBJECT_TABCONSTRAINT,
                    ObjectType.OBJECT_COLUMN) and (
                node.renameType != ObjectType.OBJECT_COLUMN
                or node.relationType == ObjectType.OBJECT_TABLE):
            yield 'expand-renames'
    elif isinstance(node, ast.AlterTableStmt):
        if node.objtype != ObjectType.OBJECT_TABLE or \
                node.relation.relname in created:
            return
        for command in node.cmds:
            yield from _command_rules(command)


def _command_rules(command):
    kind = command.subtype
    if kind in _REMOVING or (kind == AlterTableType.AT_ColumnDefault
                             and command.def_ is None):
        yield 'expand-drops'
    elif kind == AlterTableType.AT_SetNotNull:
        yield 'expand-sets-not-null'
    elif kind == AlterTableType.AT_AddColumn:
        constraints = {c.contype for c in command.def_.constraints or ()}
        if ConstrType.CONSTR_NOTNULL in constraints and \
                ConstrType.CONSTR_DEFAULT not in constraints:
            yield 'expand-sets-not-null'
    elif kind == AlterTableType.AT_AlterColumnType:
        yield 'expand-changes-type'


def _last_name(names):
    """The object name of an entry of DROP's list: a qualified name, or a
    TypeName (DROP TYPE)."""
    if isinstance(names, ast.TypeName):
        names = names.names
    return names[-1].sval


def findings(branches, rendered):
    """The Findings of the expand revisions among the `rendered` sections
    (haas.migrations.linting.sections), read statement by statement."""
    created = set()
    found = []
    for branch, revision, sql in rendered:
        script = branches.revisions[revision]
        expand = phases.phase_of(script) == phases.EXPAND
        for statement, node in parsing.parse(sql):
            if isinstance(node, ast.CreateStmt):
                created.add(node.relation.relname)
            elif expand:
                found += [Finding(branch, script.revision, rule, statement)
                          for rule in dict.fromkeys(rules_of(node, created))]
    return found
