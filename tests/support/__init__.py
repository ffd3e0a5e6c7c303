"""Helpers and fakes for the test suites (not tests themselves)."""
