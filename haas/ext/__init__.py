"""HaaS extensions: each module is enabled by naming it in [extensions]."""
