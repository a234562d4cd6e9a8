"""What tests share and are not tests: the fixed clock and a chat user (``helpers``), the
command line as a subprocess (``cli``), a bot over the fake Bot API (``telegram``), the
parser's table of typed lines (``parser_cases``), backend-neutral reads of the database
(``peek``), and the fake chat servers (``fakebotapi``, ``fakezaloapi``, ``fakeserver``).

Importable as ``support`` because ``pyproject.toml`` puts ``tests/`` on pytest's path; no
test module imports another test module, and fixtures live in the ``conftest.py`` files.
"""
