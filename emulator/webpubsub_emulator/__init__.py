"""A local emulator of Azure Web PubSub for development and tests (not the service)."""
from __future__ import annotations

from ._config import DEFAULT_ACCESS_KEY
from ._connection import ConnectionLimits
from ._mqtt_rules import MqttOptions
from ._server import Emulator
from ._upstream import EventHandlerSettings

__all__ = ["DEFAULT_ACCESS_KEY", "ConnectionLimits", "Emulator", "EventHandlerSettings", "MqttOptions"]
__version__ = "0.1.0"
