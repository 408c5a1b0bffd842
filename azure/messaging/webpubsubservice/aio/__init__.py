"""The asyncio client of Azure Web PubSub: ``async with WebPubSubServiceClient(...) as client: await ...``."""

from ._client import WebPubSubServiceClient
from ._transport import AsyncioTransport

__all__ = ["WebPubSubServiceClient", "AsyncioTransport"]
