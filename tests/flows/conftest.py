"""The flows run in-process on a database of each backend (``db_url`` over ``BACKENDS``)."""

from support.backends import on_backends

db_url = on_backends()
