"""One exception root for everything rtvi-edge raises on purpose."""


class RtviEdgeError(Exception):
    """Root of every error rtvi-edge raises deliberately."""


class ConfigError(RtviEdgeError):
    """A configuration file or value is invalid; `problems` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class ModelNotFoundError(RtviEdgeError):
    """A model file or directory named in the config does not exist."""


class EngineError(RtviEdgeError):
    """An engine failed to load or to run."""


class AudioDeviceError(RtviEdgeError):
    """No usable audio device, or the device failed."""


class ProtocolError(RtviEdgeError):
    """A peer sent something the protocol does not allow."""


class ServiceConfigError(RtviEdgeError):
    """An RTVI services config update or action was rejected; nothing was applied."""
