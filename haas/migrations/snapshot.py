"""The schema of a database as data, for comparing two databases."""

import sqlalchemy as sa


def schema_snapshot(connection):
    """Everything about the schema two databases must agree on, as data.

    Tables with their columns (type, nullability, server default),
    primary, foreign and unique keys, indexes and check constraints, all
    with names; on PostgreSQL also the sequences.
    """
    inspector = sa.inspect(connection)
    tables = {}
    for name in sorted(inspector.get_table_names()):
        pk = inspector.get_pk_constraint(name)
        tables[name] = {
            'columns': [
                (c['name'], str(c['type']), c['nullable'],
                 None if c.get('default') is None else str(c['default']))
                for c in inspector.get_columns(name)],
            'primary_key': (pk.get('name'), tuple(pk['constrained_columns'])),
            'foreign_keys': sorted(
                (fk['name'], tuple(fk['constrained_columns']),
                 fk['referred_table'], tuple(fk['referred_columns']))
                for fk in inspector.get_foreign_keys(name)),
            'unique': sorted(
                (u['name'], tuple(u['column_names']))
                for u in inspector.get_unique_constraints(name)),
            'indexes': sorted(
                (i['name'], tuple(i['column_names']), bool(i['unique']))
                for i in inspector.get_indexes(name)),
            'checks': sorted(
                (c['name'], c['sqltext'])
                for c in inspector.get_check_constraints(name)),
        }
    snapshot = {'tables': tables}
    if connection.dialect.name == 'postgresql':
        snapshot['sequences'] = connection.execute(sa.text(
            'SELECT sequencename, data_type FROM pg_sequences '
            'WHERE schemaname = current_schema() ORDER BY 1')).all()
    return snapshot
