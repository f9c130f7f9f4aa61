"""The deploy layer's user errors: one line naming the file, field or format."""


class DeployError(ValueError):
    """A scene, model source, output or export request that cannot be used."""
