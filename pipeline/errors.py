"""The errors users see. Each carries the exit status the command ends with, so the
command package maps every error to its status in one place."""


class AutocodeError(Exception):
    """A failure told to the user as one message (never a traceback)."""

    exit_status = 1


class InputError(AutocodeError):
    """Bad input from a user's file; the message names the file (and line or field)."""

    exit_status = 2
