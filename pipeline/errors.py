"""The one error type users see: a message naming the file (and line or field)."""


class InputError(Exception):
    """Bad input from a user's file; the CLI prints the message and exits with status 2."""
