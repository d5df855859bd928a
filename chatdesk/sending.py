"""Moved to :mod:`chatdesk.usecases.replies`; this alias keeps old imports (and patches) working."""

import sys
from typing import TYPE_CHECKING

from chatdesk.usecases import replies

sys.modules[__name__] = replies

if TYPE_CHECKING:  # the type checker sees the names the alias stands for
    from chatdesk.usecases.replies import *  # noqa: F403
