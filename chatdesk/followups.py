"""Moved to :mod:`chatdesk.usecases.followups`; this alias keeps old imports (and patches) working."""

import sys

from chatdesk.usecases import followups

sys.modules[__name__] = followups
