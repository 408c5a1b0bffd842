"""Turns the I/O-free operations of ``_operations`` into client methods, and what both clients share.

A method is the operation with the client's :class:`Target` bound and a way to send bolted on, so each
operation's signature, checks and docstring exist once and the sync and async clients cannot drift apart.
"""

from __future__ import annotations

import copy
import functools
import inspect
import typing
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    ClassVar,
    Dict,
    FrozenSet,
    Iterator,
    Mapping,
    Optional,
    Tuple,
    TypeVar,
)

from azure.core.async_paging import AsyncItemPaged, AsyncList
from azure.core.paging import ItemPaged
from azure.core.rest import HttpRequest
from azure.core.tracing.decorator import distributed_trace
from azure.core.tracing.decorator_async import distributed_trace_async
from azure.core.utils import case_insensitive_dict
from typing_extensions import Concatenate, ParamSpec, Self

from ._config import Settings
from ._keywords import CALL_KEYWORDS, SEND_REQUEST_KEYWORDS, PipelineOptions, check_keywords, unexpected_keyword
from ._operations import Call, GroupMember, Page, Pages, Target

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R")


class ClientBase:
    """What the sync and async ``WebPubSubServiceClient`` share besides their operations."""

    _KEYWORDS: ClassVar[FrozenSet[str]]  # what the constructor accepts (``_keywords.ClientOptions``)
    _settings: Settings
    _target: Target

    def _configure(self, endpoint: str, hub: Any, credential: Any, kwargs: Mapping[str, Any]) -> Dict[str, Any]:
        """Check the constructor's keywords, settle endpoint, hub and credential; the other options remain."""
        check_keywords("WebPubSubServiceClient", kwargs, self._KEYWORDS)
        if credential is None and hub is not None and not isinstance(hub, str):
            hub, credential = None, hub  # WebPubSubServiceClient(endpoint, credential), as early releases
        options = dict(kwargs)
        self._settings = Settings.create(endpoint, hub, credential, options)
        self._target = self._settings.target
        return options

    @classmethod
    def from_connection_string(cls, connection_string: str, hub: Optional[str] = None, **kwargs: Any) -> Self:
        """Create a client from ``Endpoint=...;AccessKey=...;Version=1.0;`` (an optional ``Port=`` is honoured).

        The keywords are the constructor's.
        """
        check_keywords("WebPubSubServiceClient.from_connection_string", kwargs, cls._KEYWORDS)
        endpoint, credential = Settings.from_connection_string(connection_string)
        return cls(endpoint, hub, credential, **kwargs)  # type: ignore[call-arg]

    @property
    def endpoint(self) -> str:
        """The service URL requests go to, e.g. ``https://<resource>.webpubsub.azure.com``."""
        return self._target.endpoint

    @property
    def hub(self) -> Optional[str]:
        """The hub the operations act on (None for a client that only sends prepared requests)."""
        return self._target.hub

    @property
    def api_version(self) -> str:
        """The REST API version of every request."""
        return self._target.api_version

    @property
    def _config(self) -> Settings:
        # The official SDK's name for the settings: its tests and some user code read _config.endpoint,
        # _config.hub and _config.credential.
        return self._settings

    def __repr__(self) -> str:
        return f"<WebPubSubServiceClient endpoint:'{self._settings.endpoint}'>"

    def _own_copy(self, request: HttpRequest, options: PipelineOptions) -> HttpRequest:
        """What ``send_request`` sends: after checking its keywords, a shallow copy of the caller's request
        with an absolute URL and its own headers, so policies never touch the caller's object."""
        check_keywords("WebPubSubServiceClient.send_request", options, SEND_REQUEST_KEYWORDS)
        resolved = copy.copy(request)
        # not copy.copy(headers): a CaseInsensitiveDict's shallow copy shares its store with the original
        resolved.headers = case_insensitive_dict(request.headers)
        if "://" not in request.url:
            resolved.url = self._target.endpoint + ("" if request.url.startswith("/") else "/") + request.url
        return resolved


def _checked(operation: Callable[..., R], owner: str) -> Tuple[str, Callable[..., R]]:
    """The method's qualified name, and the operation behind a check of the call's keywords: the operation's
    own and the per-call ones (``CALL_KEYWORDS``); anything else is a ``TypeError`` naming the closest."""
    qualname = f"{owner}.{operation.__name__}"
    parameters = list(inspect.signature(operation).parameters.values())[1:]  # after `target`
    accepted = CALL_KEYWORDS.union(p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))

    def start(self: Any, args: Any, kwargs: Dict[str, Any]) -> R:
        if kwargs and not accepted.issuperset(kwargs):
            raise unexpected_keyword(qualname, kwargs, accepted)
        return operation(self._target, *args, **kwargs)

    return qualname, start


def _adopt(method: Callable[..., Any], operation: Callable[..., Any], qualname: str, module: str,
           returns: Callable[[Any], Any]) -> None:
    """Give ``method`` the operation's name, docstring and signature, without ``target`` and with the result
    type ``returns(operation's return type)``."""
    functools.update_wrapper(method, operation)
    del method.__wrapped__  # type: ignore[attr-defined]  # inspect must show the method, not the operation
    method.__qualname__ = qualname
    method.__module__ = module
    # Resolved in the operations' module: as strings (``from __future__ import annotations``) they would be
    # looked up in the client's module by typing.get_type_hints() and fail there.
    hints = typing.get_type_hints(operation)
    hints["return"] = returns(hints["return"])
    signature = inspect.signature(operation)
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)]
    for parameter in list(signature.parameters.values())[1:]:
        parameters.append(parameter.replace(annotation=hints[parameter.name]))
    del hints[next(iter(signature.parameters))]
    method.__annotations__ = hints
    method.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=parameters, return_annotation=hints["return"])


def _result_of(call_type: Any) -> Any:
    result = typing.get_args(call_type)[0]  # Call[T] -> T
    return None if result is type(None) else result


# Call-time keywords of azure-core's tracing decorators: the first two belong to the span only, the
# others are read by the span and by the pipeline's tracing policy.
_SPAN_ONLY_KEYWORDS = ("parent_span", "merge_span")
_SPAN_AND_PIPELINE_KEYWORDS = ("tracing_options", "tracing_attributes")


def _span_options(call: Call[Any]) -> Dict[str, Any]:
    if not call.options:
        return call.options
    options = {name: call.options.pop(name) for name in _SPAN_ONLY_KEYWORDS if name in call.options}
    options.update((name, call.options[name]) for name in _SPAN_AND_PIPELINE_KEYWORDS if name in call.options)
    return options


def sync_operation(
    operation: Callable[Concatenate[Target, P], Call[T]], owner: str = "WebPubSubServiceClient"
) -> Callable[Concatenate[Any, P], T]:
    qualname, start = _checked(operation, owner)

    def send(self: Any, call: Call[T], **span_options: Any) -> T:
        return self._run(call)  # type: ignore[no-any-return]

    traced_send = distributed_trace(name_of_span=qualname)(send)

    def method(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> T:
        call = start(self, args, kwargs)
        if call.request is None:  # computed locally (a token signed with the access key): no span
            return call.interpret(None)
        return traced_send(self, call, **_span_options(call))

    _adopt(method, operation, qualname, "azure.messaging.webpubsubservice", _result_of)
    return method


def async_operation(
    operation: Callable[Concatenate[Target, P], Call[T]], owner: str = "WebPubSubServiceClient"
) -> Callable[Concatenate[Any, P], Awaitable[T]]:
    qualname, start = _checked(operation, owner)

    async def send(self: Any, call: Call[T], **span_options: Any) -> T:
        return await self._run(call)  # type: ignore[no-any-return]

    traced_send = distributed_trace_async(name_of_span=qualname)(send)

    async def method(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> T:
        call = start(self, args, kwargs)
        if call.request is None:
            return call.interpret(None)
        return await traced_send(self, call, **_span_options(call))

    _adopt(method, operation, qualname, "azure.messaging.webpubsubservice.aio", _result_of)
    return method


def sync_pages(
    operation: Callable[Concatenate[Target, P], Pages], owner: str = "WebPubSubServiceClient"
) -> Callable[Concatenate[Any, P], ItemPaged[GroupMember]]:
    """A listing method: an ``ItemPaged`` that sends one page's request at a time, as it is iterated."""
    qualname, start = _checked(operation, owner)

    def method(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> ItemPaged[GroupMember]:
        pages = start(self, args, kwargs)

        def get_next(next_link: Optional[str] = None) -> Page:
            return self._run(pages.page(next_link))  # type: ignore[no-any-return]

        def extract_data(page: Page) -> Tuple[Optional[str], Iterator[GroupMember]]:
            return page[0], iter(page[1])

        return ItemPaged(get_next, extract_data)

    traced = distributed_trace(name_of_span=qualname)(method)
    _adopt(traced, operation, qualname, "azure.messaging.webpubsubservice", lambda _: ItemPaged[GroupMember])
    return traced


def async_pages(
    operation: Callable[Concatenate[Target, P], Pages], owner: str = "WebPubSubServiceClient"
) -> Callable[Concatenate[Any, P], AsyncItemPaged[GroupMember]]:
    """A listing method: iterate the result with ``async for``; each page is fetched when it is reached."""
    qualname, start = _checked(operation, owner)

    def method(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> AsyncItemPaged[GroupMember]:
        pages = start(self, args, kwargs)

        async def get_next(next_link: Optional[str] = None) -> Page:
            return await self._run(pages.page(next_link))  # type: ignore[no-any-return]

        async def extract_data(page: Page) -> Tuple[Optional[str], AsyncIterator[GroupMember]]:
            return page[0], AsyncList(page[1])

        return AsyncItemPaged(get_next, extract_data)

    traced = distributed_trace(name_of_span=qualname)(method)
    _adopt(traced, operation, qualname, "azure.messaging.webpubsubservice.aio",
           lambda _: AsyncItemPaged[GroupMember])
    return traced
