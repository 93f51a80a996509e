"""Topic contracts: pydantic models (the source of truth), their exported JSON Schemas, the registry."""
