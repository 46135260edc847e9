"""``python -m registry.cli``: the ``registry`` command."""

from registry.cli.app import main

main()
