"""The asyncio client of Azure Web PubSub: ``async with WebPubSubServiceClient(...) as client: await ...``."""

from ._client import WebPubSubServiceClient

__all__ = ["WebPubSubServiceClient"]
