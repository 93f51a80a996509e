"""Synthetic license plates and camera frames, deterministic by seed."""
