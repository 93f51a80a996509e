"""Helpers every test package shares (one copy each); test modules import from here, never from each other."""
