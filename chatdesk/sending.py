"""Moved to :mod:`chatdesk.usecases.replies`; this alias keeps old imports (and patches) working."""

import sys

from chatdesk.usecases import replies

sys.modules[__name__] = replies
