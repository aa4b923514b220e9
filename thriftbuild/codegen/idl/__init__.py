"""The IDL front end: lexer, parser, resolver and the light header scan.

:mod:`.scan` reads what the build needs before any generator runs (includes,
``namespace py``, service names). :mod:`.lexer`, :mod:`.parser` and :mod:`.resolve`
turn a file and its includes into the resolved model of :mod:`.resolved`, which the
python backends emit from. Nothing here writes files.
"""
