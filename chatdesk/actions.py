"""Moved to :mod:`chatdesk.usecases.accounts`; this alias keeps old imports (and patches) working."""

import sys
from typing import TYPE_CHECKING

from chatdesk.usecases import accounts

sys.modules[__name__] = accounts

if TYPE_CHECKING:  # the type checker sees the names the alias stands for
    from chatdesk.usecases.accounts import *  # noqa: F403
