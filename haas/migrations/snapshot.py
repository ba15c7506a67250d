"""The schema of a database as data, and its tables as far as reading
every row needs them, for comparing two databases."""

import sqlalchemy as sa


def schema_snapshot(connection):
    """Everything about the schema two databases must agree on, as data.

    Tables with their columns (type, nullability, server default),
    primary, foreign and unique keys, indexes and check constraints, all
    with names; on PostgreSQL also the sequences.
    """
    inspector = sa.inspect(connection)
    names = sorted(inspector.get_table_names())
    # Each kind for every table at once: on PostgreSQL one catalog query
    # a kind, where asking table by table made six a table.
    kinds = {
        kind: {table: found for (_, table), found in getattr(
            inspector, f'get_multi_{kind}')(filter_names=names).items()}
        for kind in ('columns', 'pk_constraint', 'foreign_keys',
                     'unique_constraints', 'indexes', 'check_constraints')}
    tables = {}
    for name in names:
        pk = kinds['pk_constraint'][name]
        tables[name] = {
            'columns': [
                (c['name'], str(c['type']), c['nullable'],
                 None if c.get('default') is None else str(c['default']))
                for c in kinds['columns'][name]],
            'primary_key': (pk.get('name'), tuple(pk['constrained_columns'])),
            'foreign_keys': sorted(
                (fk['name'], tuple(fk['constrained_columns']),
                 fk['referred_table'], tuple(fk['referred_columns']))
                for fk in kinds['foreign_keys'][name]),
            'unique': sorted(
                (u['name'], tuple(u['column_names']))
                for u in kinds['unique_constraints'][name]),
            'indexes': sorted(
                (i['name'], tuple(i['column_names']), bool(i['unique']))
                for i in kinds['indexes'][name]),
            'checks': sorted(
                (c['name'], c['sqltext'])
                for c in kinds['check_constraints'][name]),
        }
    snapshot = {'tables': tables}
    if connection.dialect.name == 'postgresql':
        snapshot['sequences'] = connection.execute(sa.text(
            'SELECT sequencename, data_type FROM pg_sequences '
            'WHERE schemaname = current_schema() ORDER BY 1')).all()
    return snapshot


def tables_to_read(connection):
    """{name: Table} of the database's tables, sorted by name, with their
    columns and types and nothing else: enough to select every row.
    Reflecting their keys, indexes and constraints too (MetaData.reflect)
    takes several times longer, and a comparison of rows after each
    revision does it again and again."""
    metadata = sa.MetaData()
    return {name: sa.Table(name, metadata, *(
                sa.Column(c['name'], c['type']) for c in columns))
            for (_, name), columns in sorted(
                sa.inspect(connection).get_multi_columns().items())}
