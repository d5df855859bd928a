"""Moved to :mod:`chatdesk.usecases.followups`; this alias keeps old imports (and patches) working."""

import sys
from typing import TYPE_CHECKING

from chatdesk.usecases import followups

sys.modules[__name__] = followups

if TYPE_CHECKING:  # the type checker sees the names the alias stands for
    from chatdesk.usecases.followups import *  # noqa: F403
