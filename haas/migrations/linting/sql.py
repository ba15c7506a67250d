"""Each statement of a revision's SQL read as PostgreSQL reads it: the
table it touches, the lock it takes, whether it rewrites the table, and the
lint rules it breaks.

The statements are parsed by pglast, which is libpg_query: the parser of
PostgreSQL itself, so that raw SQL in any layout (comments, case, several
statements in one `op.execute`) is read as the server will read it.  What
a statement does may depend on what came before it (a column's type, a
validated check) and on the server's version; `Catalog` keeps both.
"""

import dataclasses

import pglast
from pglast import ast
from pglast.enums import (
    AlterTableType,
    ConstrType,
    NullTestType,
    ObjectType,
    VariableSetKind,
)
from pglast.visitors import Visitor

from haas.errors import MigrationError

#: PostgreSQL's table lock modes, weakest first, as pg_locks names them.
LOCKS = ('AccessShareLock', 'RowShareLock', 'RowExclusiveLock',
         'ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock',
         'ExclusiveLock', 'AccessExclusiveLock')
#: From this mode up a lock blocks writes: waiting for it queues them all.
BLOCKING = LOCKS.index('ShareLock')

#: The version assumed without a server to ask (`--postgresql-version`).
DEFAULT_VERSION = 120000

#: Functions common in defaults that are not volatile: a column added with
#: one of them as DEFAULT is filled without a rewrite from PostgreSQL 11 on.
#: Any other function counts as volatile, unless the server says otherwise
#: (Catalog.stable, read from pg_proc).
STABLE = frozenset({
    'now', 'transaction_timestamp', 'statement_timestamp', 'current_date',
    'current_timestamp', 'localtimestamp', 'lower', 'upper', 'length',
    'coalesce', 'abs', 'to_timestamp', 'to_date', 'make_date',
    'make_timestamp', 'make_interval', 'jsonb_build_object',
    'json_build_object', 'array_length', 'concat', 'md5',
})

_SERIALS = {'smallserial': 'int2', 'serial2': 'int2', 'serial': 'int4',
            'serial4': 'int4', 'bigserial': 'int8', 'serial8': 'int8'}
#: Types PostgreSQL converts to another of the list without a rewrite,
#: when the new length limit is no shorter (varchar(n) -> text, say).
_TEXTS = {'varchar', 'text'}


@dataclasses.dataclass
class Catalog:
    """What lint knows of the schema while it reads a run of revisions."""

    #: the database's tables before the run; None without a database
    existing: set | None = None
    #: tables a revision of the run creates: new, so empty
    created: set = dataclasses.field(default_factory=set)
    #: (table, column) -> (type name, its modifiers), where known
    columns: dict = dataclasses.field(default_factory=dict)
    #: (table, check constraint) -> the column it says IS NOT NULL
    checks: dict = dataclasses.field(default_factory=dict)
    #: (table, column) with a validated CHECK (column IS NOT NULL)
    validated: set = dataclasses.field(default_factory=set)
    #: PostgreSQL's server_version_num the SQL is judged for
    version: int = DEFAULT_VERSION
    #: names of functions the server says are not volatile
    stable: frozenset = STABLE

    def live(self, table):
        """Whether `table` may hold rows: one the database has (any,
        without a database) that the run did not make."""
        return table not in self.created and (
            self.existing is None or table in self.existing)


@dataclasses.dataclass
class Effect:
    """What one statement does."""

    statement: str
    #: table -> the strongest lock the statement takes on it
    locks: dict = dataclasses.field(default_factory=dict)
    rewrites: list = dataclasses.field(default_factory=list)
    rules: list = dataclasses.field(default_factory=list)
    #: the tables a CREATE TABLE names
    creates: list = dataclasses.field(default_factory=list)

    def lock(self, table, mode):
        held = self.locks.get(table)
        if held is None or LOCKS.index(mode) > LOCKS.index(held):
            self.locks[table] = mode

    def rule(self, name):
        if name not in self.rules:
            self.rules.append(name)


def parse(sql):
    """(statement text, parse tree) of each statement of `sql`;
    MigrationError, with PostgreSQL's message, if it does not parse."""
    try:
        raws = pglast.parse_sql(sql)
    except pglast.parser.ParseError as e:
        raise MigrationError(f'it does not parse as PostgreSQL: {e}') from e
    data = sql.encode('utf-8')
    for raw in raws:
        end = raw.stmt_location + raw.stmt_len if raw.stmt_len else len(data)
        yield _text(data[raw.stmt_location:end].decode('utf-8')), raw.stmt


def _text(source):
    """`source` without the comments before it or on lines of their own."""
    lines = [line for line in source.splitlines()
             if line.strip() and not line.lstrip().startswith('--')]
    text = '\n'.join(lines).strip()
    while text.startswith('/*') and '*/' in text:
        text = text[text.index('*/') + 2:].lstrip()
    return text


def type_of(type_name):
    """(name, modifiers) of a pglast TypeName, aliases resolved."""
    name = type_name.names[-1].sval.lower()
    name = _SERIALS.get(name, name)
    mods = tuple(getattr(m.val, 'ival', None) for m in type_name.typmods or ())
    if type_name.arrayBounds:
        name += '[]'
    return name, mods


def parse_type(text):
    """(name, modifiers) of a type as PostgreSQL's format_type writes it."""
    cast = pglast.parse_sql(f'SELECT NULL::{text}')[0].stmt.targetList[0]
    return type_of(cast.val.typeName)


def rewrites_type(old, new, using, version):
    """Whether changing a column of type `old` (None: unknown) to `new`
    rewrites the table: unless PostgreSQL knows the old values are valid
    as they are (a longer or no length limit on text, more digits)."""
    if old is None or using is not None or version < 90200:
        return True
    if old == new:
        return False
    (old_name, old_mods), (new_name, new_mods) = old, new
    if old_name in _TEXTS and new_name in _TEXTS:
        return bool(new_mods) and (not old_mods or new_mods < old_mods)
    if old_name == new_name == 'numeric' and old_mods and new_mods:
        # More digits at the same scale: numeric(p, s) -> numeric(q, s).
        return len(old_mods) != len(new_mods) or new_mods[1:] != \
            old_mods[1:] or new_mods[0] < old_mods[0]
    if old_name == 'numeric' and new_name == 'numeric':
        return bool(new_mods)
    return True


class _Volatile(Visitor):
    def __init__(self, stable):
        super().__init__()
        self.stable = stable
        self.found = False

    def visit_FuncCall(self, ancestors, node):
        if node.funcname[-1].sval.lower() not in self.stable:
            self.found = True


def volatile(expression, stable=STABLE):
    """Whether `expression` calls a function that may differ per row."""
    visitor = _Volatile(stable)
    visitor(expression)
    return visitor.found


def _null(expression):
    return isinstance(expression, ast.A_Const) and expression.isnull


def _not_null_column(expression):
    """The column of a CHECK (column IS NOT NULL), else None."""
    if isinstance(expression, ast.NullTest) and \
            expression.nulltesttype == NullTestType.IS_NOT_NULL and \
            isinstance(expression.arg, ast.ColumnRef):
        return expression.arg.fields[-1].sval
    return None


def lock_timeout(node, current):
    """Whether lock_timeout is set after VariableSetStmt `node`."""
    if node.name != 'lock_timeout':
        return current
    if node.kind != VariableSetKind.VAR_SET_VALUE:
        return False  # RESET, or SET ... TO DEFAULT
    value = node.args[0].val
    number = getattr(value, 'ival', None)
    if number is None:
        number = ''.join(c for c in value.sval if c.isdigit()) or '0'
    return int(number) != 0


def read(text, node, catalog):
    """The Effect of parsed statement `node` (its source `text`) after
    those `catalog` has read; `catalog` learns what it changes."""
    effect = Effect(text)
    reader = _READERS.get(type(node).__name__)
    if reader is not None:
        reader(node, effect, catalog)
    return effect


def _create_table(node, effect, catalog):
    table = node.relation.relname
    effect.creates.append(table)
    for element in node.tableElts or ():
        if isinstance(element, ast.ColumnDef):
            catalog.columns[table, element.colname] = type_of(
                element.typeName)
        elif isinstance(element, ast.Constraint) and \
                element.contype == ConstrType.CONSTR_FOREIGN:
            effect.lock(element.pktable.relname, 'ShareRowExclusiveLock')


def _index(node, effect, catalog):
    table = node.relation.relname
    effect.lock(table, 'ShareUpdateExclusiveLock' if node.concurrent
                else 'ShareLock')
    if not node.concurrent and catalog.live(table):
        effect.rule('index-not-concurrent')


def _drop(node, effect, catalog):
    if node.removeType != ObjectType.OBJECT_TABLE:
        return
    for names in node.objects:
        table = names[-1].sval
        effect.lock(table, 'AccessExclusiveLock')
        if catalog.live(table):
            effect.rule('drop-table')
        catalog.created.discard(table)
        if catalog.existing is not None:
            catalog.existing.discard(table)  # made again, it is new


def _rename(node, effect, catalog):
    if node.relationType != ObjectType.OBJECT_TABLE or node.renameType not in (
            ObjectType.OBJECT_TABLE, ObjectType.OBJECT_COLUMN):
        return
    table = node.relation.relname
    effect.lock(table, 'AccessExclusiveLock')
    if catalog.live(table):
        effect.rule('breaking-rename-or-drop')
    if node.renameType == ObjectType.OBJECT_COLUMN:
        old, new = (table, node.subname), (table, node.newname)
        if old in catalog.columns:
            catalog.columns[new] = catalog.columns.pop(old)
        return
    for key in [k for k in catalog.columns if k[0] == table]:
        catalog.columns[node.newname, key[1]] = catalog.columns.pop(key)
    if catalog.existing is not None and table in catalog.existing:
        catalog.existing.add(node.newname)
    if table in catalog.created:
        catalog.created.discard(table)
        catalog.created.add(node.newname)


def _dml(node, effect, catalog):
    effect.lock(node.relation.relname, 'RowExclusiveLock')


def _truncate(node, effect, catalog):
    for relation in node.relations:
        effect.lock(relation.relname, 'AccessExclusiveLock')
        effect.rewrites.append(relation.relname)


def _lock(node, effect, catalog):
    mode = LOCKS[node.mode - 1]  # LockStmt counts from AccessShareLock = 1
    for relation in node.relations:
        effect.lock(relation.relname, mode)


def _alter(node, effect, catalog):
    if node.objtype != ObjectType.OBJECT_TABLE:
        return
    table = node.relation.relname
    live = catalog.live(table)
    for command in node.cmds:
        reader = _COMMANDS.get(command.subtype, _other_command)
        reader(table, command, effect, catalog, live)


def _rewrite(effect, table):
    if table not in effect.rewrites:
        effect.rewrites.append(table)


def _other_command(table, command, effect, catalog, live):
    effect.lock(table, 'AccessExclusiveLock')
    if command.subtype in (AlterTableType.AT_SetLogged,
                           AlterTableType.AT_SetUnLogged,
                           AlterTableType.AT_SetTableSpace,
                           AlterTableType.AT_SetAccessMethod):
        _rewrite(effect, table)


def _add_column(table, command, effect, catalog, live):
    effect.lock(table, 'AccessExclusiveLock')
    column = command.def_
    kind = column.typeName.names[-1].sval.lower()
    catalog.columns[table, column.colname] = type_of(column.typeName)
    constraints = {c.contype: c for c in column.constraints or ()}
    default = constraints.get(ConstrType.CONSTR_DEFAULT)
    default = None if default is None or _null(default.raw_expr) else \
        default.raw_expr
    # A serial's default is nextval(): volatile, as an identity's values.
    filled = kind in _SERIALS or ConstrType.CONSTR_IDENTITY in constraints \
        or ConstrType.CONSTR_GENERATED in constraints
    if filled or default is not None and (
            catalog.version < 110000 or volatile(default, catalog.stable)):
        _rewrite(effect, table)
        if live:
            effect.rule('volatile-default-rewrites')
    if not live:
        return
    if ConstrType.CONSTR_NOTNULL in constraints and default is None and \
            not filled:
        effect.rule('not-null-without-default')
    if ConstrType.CONSTR_PRIMARY in constraints or \
            ConstrType.CONSTR_UNIQUE in constraints:
        effect.rule('index-not-concurrent')
    if ConstrType.CONSTR_FOREIGN in constraints or \
            ConstrType.CONSTR_CHECK in constraints:
        effect.rule('constraint-not-valid')


def _alter_type(table, command, effect, catalog, live):
    effect.lock(table, 'AccessExclusiveLock')
    key = table, command.name
    new = type_of(command.def_.typeName)
    if rewrites_type(catalog.columns.get(key), new, command.def_.raw_default,
                     catalog.version):
        _rewrite(effect, table)
        if live:
            effect.rule('type-change-rewrites')
    catalog.columns[key] = new


def _add_constraint(table, command, effect, catalog, live):
    constraint = command.def_
    kind = constraint.contype
    if kind == ConstrType.CONSTR_FOREIGN:
        effect.lock(table, 'ShareRowExclusiveLock')
        effect.lock(constraint.pktable.relname, 'ShareRowExclusiveLock')
    else:
        effect.lock(table, 'AccessExclusiveLock')
    if kind == ConstrType.CONSTR_CHECK:
        column = _not_null_column(constraint.raw_expr)
        if column is not None:
            catalog.checks[table, constraint.conname] = column
            if not constraint.skip_validation:
                catalog.validated.add((table, column))
    if not live:
        return
    if kind in (ConstrType.CONSTR_FOREIGN, ConstrType.CONSTR_CHECK) and \
            not constraint.skip_validation:
        effect.rule('constraint-not-valid')
    if kind in (ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_UNIQUE,
                ConstrType.CONSTR_EXCLUSION) and not constraint.indexname:
        effect.rule('index-not-concurrent')


def _validate(table, command, effect, catalog, live):
    effect.lock(table, 'ShareUpdateExclusiveLock')
    column = catalog.checks.get((table, command.name))
    if column is not None:
        catalog.validated.add((table, column))


def _set_not_null(table, command, effect, catalog, live):
    effect.lock(table, 'AccessExclusiveLock')
    # From PostgreSQL 12 a validated CHECK (column IS NOT NULL) spares the
    # scan; before it, SET NOT NULL always reads the whole table.
    if live and not (catalog.version >= 120000
                     and (table, command.name) in catalog.validated):
        effect.rule('set-not-null-without-check')


def _drop_column(table, command, effect, catalog, live):
    effect.lock(table, 'AccessExclusiveLock')
    catalog.columns.pop((table, command.name), None)
    if live:
        effect.rule('breaking-rename-or-drop')


_COMMANDS = {
    AlterTableType.AT_AddColumn: _add_column,
    AlterTableType.AT_AlterColumnType: _alter_type,
    AlterTableType.AT_AddConstraint: _add_constraint,
    AlterTableType.AT_ValidateConstraint: _validate,
    AlterTableType.AT_SetNotNull: _set_not_null,
    AlterTableType.AT_DropColumn: _drop_column,
    AlterTableType.AT_SetStatistics:
        lambda table, command, effect, catalog, live: effect.lock(
            table, 'ShareUpdateExclusiveLock'),
}

_READERS = {
    'CreateStmt': _create_table,
    'IndexStmt': _index,
    'DropStmt': _drop,
    'RenameStmt': _rename,
    'AlterTableStmt': _alter,
    'InsertStmt': _dml,
    'UpdateStmt': _dml,
    'DeleteStmt': _dml,
    'TruncateStmt': _truncate,
    'LockStmt': _lock,
}


def not_null_check(definition):
    """The column of a check constraint whose definition (as
    pg_get_constraintdef writes it) is CHECK (column IS NOT NULL)."""
    node = pglast.parse_sql(f'ALTER TABLE t ADD {definition}')[0].stmt
    return _not_null_column(node.cmds[0].def_.raw_expr)
