"""The ``carbon-ledger`` command line, one module per command group."""
