"""Errors that end a command with one clear line instead of a stack trace."""


class AlprError(Exception):
    """Base class: `alpr` prints str(err) on one line and exits 2."""


class ConfigError(AlprError):
    """Configuration is invalid (unknown key, missing value, placeholder secret, taken port)."""


class StoreError(AlprError):
    """The ClickHouse store cannot be opened or reached."""


class BrokerError(AlprError):
    """The local Kafka broker cannot be started, reached or stopped."""


class ContractError(AlprError):
    """A message does not satisfy its topic contract; it belongs in the DLQ."""
