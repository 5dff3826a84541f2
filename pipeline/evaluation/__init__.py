"""Agreement with gold and among coders. `evaluate.evaluate_with_intervals` is where `autocode
eval` starts; the measures are in `measures`, the scores in `scores`, their bootstrap intervals in
`uncertainty`, tables and Markdown in `render`."""
