"""Reading run folders: results.json (schema), the results store and its index, the HTML
run report, the comparison of two runs, and the history of figures across runs.
docs/results.md describes the formats and the commands."""
