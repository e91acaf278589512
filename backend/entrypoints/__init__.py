"""How the ledger is started and driven from outside: the command line (``cli``)."""
