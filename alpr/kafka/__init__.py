"""Kafka for every service: client configuration, topic administration, the batch consumer, the DLQ, the local broker."""
