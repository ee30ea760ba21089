"""Reading logs back: the last records of a spool (`tail`, `follow`), SQL over the log table
(`query`, with views), the HTML report, and table retention (`vacuum`)."""
