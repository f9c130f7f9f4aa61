"""The data layer's user error: columns or products that break the data contract."""


class DataError(ValueError):
    """Columns that break the data contract; the message is one line naming the file or array."""
