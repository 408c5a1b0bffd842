"""Azure Web PubSub service client library for Python."""

from ._client import WebPubSubServiceClient
from ._config import ClientClosedError
from ._odata import odata
from ._operations import GroupMember, WebPubSubPermission
from ._version import VERSION

__version__ = VERSION
__all__ = ["ClientClosedError", "GroupMember", "WebPubSubServiceClient", "WebPubSubPermission", "odata"]
