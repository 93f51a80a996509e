"""The occupancy service's own Prometheus metrics (the shared consumer ones are in alpr.metrics)."""

from prometheus_client import Counter, Gauge

SERVICE = "occupancy"

READS = Counter("alpr_occupancy_reads_total", "Reads by what occupancy did with them.", ["outcome"])
OCCUPIED = Gauge("alpr_occupancy_occupied", "Vehicles in the facility.", ["facility"])
