"""The errors a ProcessDaemon raises when its child process fails."""

from __future__ import annotations

from tickwork import TickworkError

__all__ = ["ChildLost", "ControlPlaneError", "RemoteDaemonError"]


class RemoteDaemonError(TickworkError):
    """An exception escaped a daemon in a child process; this is its text, not the object.

    ``remote_type`` is the qualified name of the remote exception's class, ``remote_args``
    its arguments as text (``repr`` of each) and ``remote_traceback`` the formatted
    traceback from the child (also attached as a note, so it prints with this error).
    """

    def __init__(
        self,
        *,
        daemon: str,
        remote_daemon: str,
        remote_type: str,
        remote_args: tuple[str, ...],
        remote_traceback: str,
        pid: int | None,
    ) -> None:
        where = f"in child process {pid}" if pid is not None else "in its child process"
        args = ", ".join(remote_args)
        super().__init__(
            f"{remote_type}({args}) raised by daemon {remote_daemon!r} {where} "
            f"of ProcessDaemon {daemon!r}"
        )
        self.daemon = daemon
        self.remote_daemon = remote_daemon
        self.remote_type = remote_type
        self.remote_args = remote_args
        self.remote_traceback = remote_traceback
        self.pid = pid
        if remote_traceback:
            self.add_note(f"Remote traceback:\n{remote_traceback.rstrip()}")


class ChildLost(TickworkError):
    """The child process died, went silent or could not start; ``reason`` says which.

    ``returncode`` is the exit status when the process ended (negative: the signal
    that killed it), None when it is still alive but stopped answering.
    """

    def __init__(self, message: str, *, daemon: str, returncode: int | None) -> None:
        super().__init__(message)
        self.daemon = daemon
        self.returncode = returncode


class ControlPlaneError(TickworkError):
    """The child sent a control message that is malformed or not allowed now.

    The parent logs it and treats it as that child's failure; the parent itself goes on.
    """

    def __init__(self, message: str, *, daemon: str) -> None:
        super().__init__(message)
        self.daemon = daemon
