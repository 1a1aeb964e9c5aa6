"""What the tests share: the test client, real server processes, and ways to wait.

Fixtures stay in tests/conftest.py; everything here is plain code a test imports.
"""
