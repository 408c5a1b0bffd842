"""Turns the I/O-free operations of ``_operations`` into client methods.

A method is the operation with the client's :class:`Target` bound and a way to send bolted on, so each
operation's signature, checks and docstring exist once and the sync and async clients cannot drift apart.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Awaitable, Callable, Dict, TypeVar

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


# Call-time keywords of azure-core's tracing decorators: the first two belong to the span only, the
# others are read by the span and by the pipeline's tracing policy.
_SPAN_ONLY_KEYWORDS = ("parent_span", "merge_span")
_SPAN_AND_PIPELINE_KEYWORDS = ("tracing_options", "tracing_attributes")


def _span_options(call: Call[Any]) -> Dict[str, Any]:
    options = {name: call.options.pop(name) for name in _SPAN_ONLY_KEYWORDS if name in call.options}
    options.update((name, call.options[name]) for name in _SPAN_AND_PIPELINE_KEYWORDS if name in call.options)
    return options


def sync_operation(
    operation: Callable[Concatenate[Target, P], Call[T]], owner: str = "WebPubSubServiceClient"
) -> Callable[Concatenate[Any, P], T]:
    def send(self: Any, call: Call[T], **span_options: Any) -> T:
        return self._run(call)  # type: ignore[no-any-return]

    traced_send = distributed_trace(name_of_span=f"{owner}.{operation.__name__}")(send)

    def method(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> T:
        call = operation(self._target, *args, **kwargs)
        if call.request is None:  # computed locally (a token signed with the access key): no span
            return call.interpret(None)
        return traced_send(self, call, **_span_options(call))

    _adopt(method, operation, owner, "azure.messaging.webpubsubservice")
    return method


def async_operation(
    operation: Callable[Concatenate[Target, P], Call[T]], owner: str = "WebPubSubServiceClient"
) -> Callable[Concatenate[Any, P], Awaitable[T]]:
    async def send(self: Any, call: Call[T], **span_options: Any) -> T:
        return await self._run(call)  # type: ignore[no-any-return]

    traced_send = distributed_trace_async(name_of_span=f"{owner}.{operation.__name__}")(send)

    async def method(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> T:
        call = operation(self._target, *args, **kwargs)
        if call.request is None:
            return call.interpret(None)
        return await traced_send(self, call, **_span_options(call))

    _adopt(method, operation, owner, "azure.messaging.webpubsubservice.aio")
    return method
