"""The `haas-admin` command line: thin Click wrappers over library functions."""
