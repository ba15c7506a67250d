"""What the test modules share, as plain functions and constants, by
concern; fixtures are in conftest.py.  No test module imports another.
"""
