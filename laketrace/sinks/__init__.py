"""Sinks: where records go. The spool handler and plain-file handler over a rotating
`FileSink`, stream and callable handlers, rotation/retention/compression policies, sealed-file
maintenance, and ``enqueue=True`` writer threads."""
