"""Root pytest configuration: what ``--doctest-modules`` (see pyproject.toml) must not import.

``tests/fixtures`` holds a generator script meant for a separate virtualenv (torch,
sentence-transformers); it is not a test module and has no doctests.
"""

collect_ignore = ["tests/fixtures"]
