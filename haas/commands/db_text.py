"""What `haas-admin db status` and `db log` print: their tables as text,
and the ledger's rows as JSON."""


def status_text(result):
    header = ('BRANCH', 'EXTENSION', 'ENABLED', 'DATABASE', 'HEAD',
              'PENDING', 'VERDICT')
    # Expanded: where the branches are once expanded, which the previous
    # release's version rows do not say.
    shown = result if result.expansion is None else result.expansion.status
    rows = [header] + [
        (b.branch or '?', b.extension or '?',
         'yes' if b.enabled else ('no' if b.installed else 'not installed'),
         b.revision or '-', b.head or '-',
         '-' if b.pending is None else str(b.pending), b.verdict)
        for b in shown.branches]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ['  '.join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
             for row in rows]
    lines.append(f'Release: {_release(result)}')
    lines.append(f'Schema lock: {result.lock or "free"}')
    if result.foreign_tables:
        lines.append(f'Tables of no branch: '
                     f'{", ".join(result.foreign_tables)}')
    lines += _phase_lines(result)
    for branch in shown.branches:
        if branch.detail:
            lines.append(f'{branch.branch}: {branch.detail}')
    for warning in result.warnings():
        lines.append(f'Warning: {warning}')
    advice = result.serving_advice()
    if advice is None and result.expansion is not None:
        lines.append('Next: once no server of the previous release is left, '
                     'run `haas-admin db upgrade --phase contract`')
    else:
        lines.append(f'Next: {advice.message}' if advice else
                     'Every enabled branch is at its head.')
    return '\n'.join(lines)


def _phase_lines(result):
    from haas.migrations import servers
    lines = []
    if result.expansion is not None:
        left = result.expansion.contract_left
        lines.append(
            f'Phase: expanded, not contracted (the servers of this release '
            f'and of the previous one may run); contract revisions left: '
            f'{", ".join(r for rs in left.values() for r in rs) or "none"}')
    elif result.phase is not None:
        lines.append(f'Phase: {result.phase}')
    if result.clients is None and result.expansion is None:
        return lines  # not asked for (--clients)
    lines.append(f'Clients: {servers.summary(result.clients)}')
    for client in result.clients or ():
        lines.append(f'  {client.described}, since {client.since}')
    return lines


def _release(result):
    from haas.migrations import releases
    if result.expansion is not None:
        before = result.release
        return (f'{before}, expanded towards the next' if before else
                'none (expanded, not contracted)')
    if result.release:
        return releases.describe(result.release)
    if result.current:
        # At every head, and the heads are no release's: a development
        # version, past the last release.
        return (f'none (every branch is at its head, past release '
                f'{releases.names()[-1]})')
    return (f'none (the branches are not all at the revisions of one of '
            f'{", ".join(releases.names())})')


def json_row(row):
    started = row['started_at']
    return {**row, 'started_at': None if started is None else
            started.isoformat(timespec='seconds') + 'Z'}


def log_text(rows):
    header = ('STARTED (UTC)', 'BRANCH', 'REVISION', 'DIRECTION', 'OUTCOME',
              'SECONDS', 'HAAS')
    table = [header] + [
        ('-' if r['started_at'] is None else
         r['started_at'].isoformat(sep=' ', timespec='seconds'),
         r['branch'], r['revision'], r['direction'], r['outcome'],
         '-' if r['duration'] is None else f'{r["duration"]:.2f}',
         r['haas_version']) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = []
    for row, r in zip(table, [None] + rows):
        lines.append('  '.join(cell.ljust(w)
                               for cell, w in zip(row, widths)).rstrip())
        for key in ('error', 'reason'):
            if r is not None and r[key]:
                lines.append(f'    {key}: {r[key]}')
    if not rows:
        lines.append('(no rows)')
    return '\n'.join(lines)
