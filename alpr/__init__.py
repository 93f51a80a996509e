"""Shared package of the ALPR streaming platform: settings, Kafka, store, contracts, auth, metrics.

Every service imports what it needs from here; nothing in here knows about a particular service.
"""

__version__ = "0.1.0"
