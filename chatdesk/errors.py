"""Exceptions that carry a message meant for the user (one plain line, already redacted)."""

from __future__ import annotations


class ChatdeskError(Exception):
    """An error the CLI prints as one line (exit code 1) and the TUI shows as a notification."""

    exit_code = 1


class UsageError(ChatdeskError):
    """Bad input from the user: wrong argument, unknown account, message too long (exit code 2)."""

    exit_code = 2


class StoreError(ChatdeskError):
    """The database cannot be opened or written: foreign file, newer schema, disk full."""


class SecretsError(ChatdeskError):
    """No usable keyring, or the secret is missing."""
