"""HaaS's version, at the bottom of the tree: the migration ledger records
it and the OpenAPI document shows it, without importing the `haas` package's
entry point (`create_app`)."""

__version__ = '0.5.0.dev0'
