"""``python -m alvh.cli``: the ``alvh`` command run as a module (:func:`alvh.cli.entry.main`)."""

import sys

from alvh.cli.entry import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
