"""Pure logic of sentimon: readers, validation, text processing, the model, aggregation maths.

Nothing here imports prefect or sqlalchemy; the flows layer wires these functions together.
"""
