"""Entry point of the ``alvh`` command (:func:`main`): parse, dispatch to the subcommand, and turn
interruptions, SIGTERM and a closed pipe into their exit statuses."""

from __future__ import annotations

import os
import sys
import warnings

from alvh.cli.acrossmodels import _frontier, _verdicts
from alvh.cli.benchmarks import _bench
from alvh.cli.calibration import _calibrate, _validate
from alvh.cli.common import _fail
from alvh.cli.market import _market_replay
from alvh.cli.parser import build_parser
from alvh.cli.runs import _agree, _batch, _rerun, _run


class Terminated(KeyboardInterrupt):
    """SIGTERM (a batch scheduler's time limit or pre-emption, ``kill``), handled as Ctrl-C is."""


def _raise_terminated(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``alvh`` command; returns the exit status."""
    import signal
    import threading

    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="scipy")
    # on an abort joblib warns that chunks finished in the workers were not used: they were not
    # checkpointed and a resume computes them again, which the interruption message already implies
    warnings.filterwarnings("ignore", message=r".*tasks have been successfully executed", category=UserWarning,
                            module=r"joblib\.")
    # SIGTERM ends a command as Ctrl-C does: joblib stops its workers, finished chunks stay in the
    # checkpoint, and the exit status says which signal (a handler can only be set from the main thread)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if main_thread else None
    try:
        return _dispatch(args)
    except BrokenPipeError:
        # the reader went away (``alvh agree A B | head``): no traceback; Python's own advice is to
        # point stdout at devnull so the interpreter's final flush does not raise again
        # (https://docs.python.org/3/library/signal.html#note-on-sigpipe)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141          # 128 + SIGPIPE, what a shell reports for a command killed by it
    except KeyboardInterrupt as exc:
        term = isinstance(exc, Terminated)
        kept = args.command in ("run", "batch") and not getattr(args, "no_checkpoint", False)
        kept_designs = args.command == "frontier"
        return _fail(("terminated (SIGTERM)" if term else "interrupted") + "; no result was written"
                     + (" (finished chunks are kept: rerun the command with --resume)" if kept else "")
                     + (" (finished designs are kept: rerun the command with --resume)" if kept_designs else ""),
                     143 if term else 130)      # 128 + the signal's number, as a shell reports it
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _dispatch(args) -> int:
    commands = {"run": _run, "batch": _batch, "rerun": _rerun, "agree": _agree, "calibrate": _calibrate,
                "validate": _validate, "bench": _bench, "market-replay": _market_replay,
                "verdicts": _verdicts, "frontier": _frontier}
    if args.command not in commands:
        return _fail(f"unknown command {args.command!r}")
    return commands[args.command](args)
