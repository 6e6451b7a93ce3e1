"""`make load` (`python -m tools.load`): many uploads through the local topology, and a check of
every result. The usage and what is exercised are in `cli`'s docstring (`--help`).

- `plan`: what to upload (the object mix, bad inputs, changed objects, long documents).
- `trigger`: driving the LocalStack (uploads, duplicate notifications, faults) and observing it.
- `verify`: what each result must be, and every mismatch between that and the buckets.
- `report`: the typed report (counts, timings, notes), its table and its JSON.
- `cli`: the arguments, the run, and the files written.
"""
