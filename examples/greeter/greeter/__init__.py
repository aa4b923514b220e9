"""An example service whose Thrift code is generated at install time by thriftbuild."""
