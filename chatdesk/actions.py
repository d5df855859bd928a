"""Moved to :mod:`chatdesk.usecases.accounts`; this alias keeps old imports (and patches) working."""

import sys

from chatdesk.usecases import accounts

sys.modules[__name__] = accounts
