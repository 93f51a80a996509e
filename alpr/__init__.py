"""Shared package of the ALPR streaming platform: settings, Kafka, store, contracts, auth, metrics.

Every service imports what it needs from here; nothing in here knows about a particular service.
"""

__version__ = "0.1.0"

# Before anything imports ultralytics, matplotlib or torch: their state goes under the data
# directory, not the user's home (see alpr/libstate.py).
from alpr.libstate import keep_library_state_local as _keep_library_state_local

_keep_library_state_local()
