"""What a mock switch's ports carry, as the networking daemon left them:
`python -m haas.ext.switches.mock_state SWITCH`, with the configuration
the server uses (HAAS_CONFIG, else ./haas.cfg, else the defaults).

A module of its own, so that `python -m` does not run the mock's module,
which defines its model, a second time.
"""

import json

import click


@click.command(help=__doc__.split('\n\n')[0].replace('`', ''))
@click.argument('switch')
@click.option('--folder', is_flag=True,
              help="Print the switch's folder instead.")
def main(switch, folder):
    from haas import config
    from haas.errors import HaasError, SwitchError
    from haas.ext.switches import mock
    try:
        loaded = config.load()
        if folder:
            click.echo(mock.switch_dir(loaded, switch))
            return
        state = mock.read_state(loaded, switch)
    except (HaasError, SwitchError, OSError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(json.dumps(state, indent=2, sort_keys=True))


if __name__ == '__main__':
    main()
