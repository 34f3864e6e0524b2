"""The one small tree of unexpected outcomes in kitlib.

Expected outcomes are values (a transaction whose comparison failed returns
``succeeded=False``); only what the caller did not plan for is raised, and
every such exception derives from :class:`KitError`, so a notebook or the
``kit`` command can catch the whole family and print its message instead of
a traceback. Each message says what happened and what to do about it.

Simplifications:
- No error codes or wrapping chains as Go's ``errors.Is``; a subclass per
  kind of failure, and the message for people.
"""


class KitError(Exception):
    """Root of every exception kitlib raises on purpose."""


class MissingDependency(KitError):
    """A binary or package the kit needs is not installed (says which, and how)."""


class NeedsRoot(KitError):
    """The operation needs root (namespaces, mounts, netlink); says what to run instead."""
