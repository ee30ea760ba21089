"""The spool: file names and stamps, ids, reading spool files, recovery and the flush ledger."""
