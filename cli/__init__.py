"""The ``swanlog`` command line: parses arguments, calls swanlog_core, prints."""
