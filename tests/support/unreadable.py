"""Files this user cannot read, also when the tests run as root.

Root reads a file of mode 000 through its CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, so a
chmod alone proves nothing there. The reading is done in a command of its own instead, which
``as_a_user`` starts without those two capabilities (setpriv): file modes then bind it as they
bind any user, and the test process keeps them to set things up and check the results.
"""

import os
import shutil

import pytest

_DAC = "-dac_override,-dac_read_search"


def as_a_user(command: list[str]) -> list[str]:
    """``command`` so that it cannot read a file its mode forbids, whoever runs the tests."""
    if os.geteuid() != 0:
        return command
    if shutil.which("setpriv") is None:
        pytest.skip("root without setpriv: a file cannot be made unreadable to a command")
    # Root's capabilities after exec come from the bounding and inheritable sets: drop both.
    return ["setpriv", f"--bounding-set={_DAC}", f"--inh-caps={_DAC}", *command]
