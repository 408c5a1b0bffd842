"""Turns the I/O-free operations of ``_operations`` into client methods.

A method is the operation with the client's :class:`Target` bound and a way to send bolted on, so each
operation's signature, checks and docstring exist once and the sync and async clients cannot drift apart.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Awaitable, Callable, TypeVar

from azure.core.tracing.decorator import distributed_trace
from azure.core.tracing.decorator_async import distributed_trace_async
from typing_extensions import Concatenate, ParamSpec

from ._operations import Call, Target

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R")


def _result_annotation(operation: Callable[..., Any]) -> Any:
    """``Call[T]`` -> ``T``: what the method returns (or, for the async client, what it resolves to)."""
    annotation = inspect.signature(operation).return_annotation
    if isinstance(annotation, str) and annotation.startswith("Call[") and annotation.endswith("]"):
        return annotation[len("Call["):-1]
    return annotation


def _method_signature(operation: Callable[..., Any], returns: Any) -> inspect.Signature:
    signature = inspect.signature(operation)
    self_parameter = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    parameters = [self_parameter, *list(signature.parameters.values())[1:]]  # drop `target`
    return signature.replace(parameters=parameters, return_annotation=returns)


def _adopt(method: Callable[..., Any], operation: Callable[..., Any], owner: str, module: str) -> None:
    functools.update_wrapper(method, operation)
    del method.__wrapped__  # type: ignore[attr-defined]  # inspect must show the method, not the operation
    method.__qualname__ = f"{owner}.{operation.__name__}"
    method.__module__ = module
    method.__signature__ = _method_signature(operation, _result_annotation(operation))  # type: ignore[attr-defined]


def sync_operation(
    operation: Callable[Concatenate[Target, P], Call[T]], owner: str = "WebPubSubServiceClient"
) -> Callable[Concatenate[Any, P], T]:
    def method(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._run(operation(self._target, *args, **kwargs))  # type: ignore[no-any-return]

    _adopt(method, operation, owner, "azure.messaging.webpubsubservice")
    return distributed_trace(method)


def async_operation(
    operation: Callable[Concatenate[Target, P], Call[T]], owner: str = "WebPubSubServiceClient"
) -> Callable[Concatenate[Any, P], Awaitable[T]]:
    async def method(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._run(operation(self._target, *args, **kwargs))  # type: ignore[no-any-return]

    _adopt(method, operation, owner, "azure.messaging.webpubsubservice.aio")
    return distributed_trace_async(method)
