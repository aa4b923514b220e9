"""The build side: setuptools commands that turn ``.thrift`` files into Python packages.

Settings, discovery, the fingerprint cache and the output writer live here; the IDL
front end in :mod:`.idl`; the code generators in :mod:`.backends`. Nothing here
imports the runtime side.
"""
