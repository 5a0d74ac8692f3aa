"""Errors raised by domain modules, carrying a translatable message."""


def N_(message: str) -> str:
    """Mark a message for translation; it is translated where it is shown."""
    return message


class DomainError(Exception):
    """A rule was broken; ``message`` is an Indonesian msgid, ``params`` fill its %(name)s slots."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message)
        self.message = message
        self.params = params

    def __str__(self) -> str:
        return self.message % self.params if self.params else self.message
