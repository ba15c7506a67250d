"""How the SSH console classifies a failed login, against the simulated
PowerConnect: a switch that refuses the password is a SwitchError (the
action ends ERROR), one that goes away while it checks the password is
SwitchUnavailableError (the action is retried), as any lost session."""

import pytest

from haas.errors import SwitchError, SwitchUnavailableError
from haas.ext.switches.cli.console import Console
from haas.simulators import powerconnect, ssh


@pytest.fixture
def device(tmp_path):
    with ssh.in_thread(powerconnect.PowerConnect55xx, str(tmp_path / 'sw'),
                       'admin', 'secret') as d:
        yield d


def console(device, password):
    host, port = device.address
    return Console('sw0', f'{host}:{port}', 'admin', password,
                   connect_timeout=10)


def test_a_wrong_password_is_a_refusal(device):
    with pytest.raises(SwitchError) as e:
        console(device, 'wrong').connect()
    assert not isinstance(e.value, SwitchUnavailableError)
    assert "refused the login of 'admin'" in str(e.value)


def test_a_switch_that_hangs_up_during_the_login_is_unavailable(
        device, monkeypatch):
    def hang_up(username, password):
        # The device goes away while it checks the password: every
        # session ends before any answer to the login is sent.
        device.hang_up()
        return False
    monkeypatch.setattr(device, 'accepts', hang_up)

    with pytest.raises(SwitchUnavailableError) as e:
        console(device, 'secret').connect()
    assert "during the login of 'admin'" in str(e.value)
