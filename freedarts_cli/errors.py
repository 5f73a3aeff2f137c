"""The one exception type that reaches a user as a single line instead of a traceback."""


class UserError(Exception):
    """Bad input or a failed precondition the user can fix.

    The message is one line that names the bad value and says how to fix it; the CLI prints it
    and exits non-zero (Hydra single runs) or marks the job failed (multirun sweeps).
    """
