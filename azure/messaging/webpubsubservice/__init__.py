"""Azure Web PubSub service client library for Python."""

from ._client import WebPubSubServiceClient
from ._odata import odata
from ._operations import GroupMember, WebPubSubPermission
from ._version import VERSION

__version__ = VERSION
__all__ = ["GroupMember", "WebPubSubServiceClient", "WebPubSubPermission", "odata"]
