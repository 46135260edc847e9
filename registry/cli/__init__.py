"""The ``registry`` command: one Typer app, one module per command group."""
