"""Plate detection and reading models behind small protocols."""
