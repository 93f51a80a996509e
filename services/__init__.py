"""The platform's services; each imports the kernel package `alpr`, never another service's internals."""

import alpr  # noqa: F401  first: library state (ultralytics settings, caches) goes under the data dir
