"""One-sentence errors for users, shared by both layers.

A user error (a bad setting, a missing or malformed file) is an ``InputError``: its message is one sentence
naming the file or the setting and what was expected. The method layer names a bad setting by its argument
(``ArgumentError``); the workflow layer (``sdbrain.workflow.job``) says which config key set that argument.
Any other exception is a bug and keeps its traceback.
"""
from __future__ import annotations


class InputError(Exception):
    """Bad input from the user: the message names the file or key and what was expected."""


class ArgumentError(InputError):
    """A bad value of a method's argument, named as the argument.

    Parameters
    ----------
    argument : str
        The argument's name in the method's signature (e.g. ``alphas``).
    message : str
        What is wrong with its value, in one sentence without the name.
    """

    def __init__(self, argument: str, message: str):
        super().__init__(f"argument '{argument}': {message}")
        self.argument, self.message = argument, message


def problems_error(what: str, problems: list[str]) -> InputError:
    """Gather every problem found into one InputError, on one line.

    Parameters
    ----------
    what : str
        What was checked (e.g. ``NSD check of /data/nsd failed``).
    problems : list of str
        One sentence per problem.
    """
    n = len(problems)
    return InputError(f"{what}: {n} problem{'s' if n != 1 else ''}: " + "; ".join(problems))
