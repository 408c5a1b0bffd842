"""The chat sample in a real browser: Debian's Chromium, driven by Playwright, against the sample's own
server and the in-process emulator.

Two browser contexts are two people. Every page is watched for console errors, uncaught exceptions and
failed requests; each test ends by asserting there were none. Screenshots land in tests/screenshots/
(git-ignored) for a person to look at.

Chromium comes from Debian (`apt-get install -y chromium`; .ci/run installs it when missing), because
Playwright's own browser download does not work here. When it is missing, the tests install it if
they run as root with apt-get, and skip (saying why) only where it cannot be installed.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator, List

import pytest

pytest.importorskip("webpubsub_emulator")

from playwright.sync_api import (  # noqa: E402
    Browser, BrowserContext, ConsoleMessage, Response, Route, expect, sync_playwright)

from azure.messaging.webpubsubservice import WebPubSubServiceClient  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling home, and this closed network refuses it.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 15_000  # upper bound for anything a test waits for in the browser
INSTALL_SECONDS = 900
DESKTOP = {"width": 1280, "height": 800}
expect.set_options(timeout=WAIT_MS)
PHONE_VIEWPORT = {"width": 390, "height": 844}
PHONE = {"viewport": PHONE_VIEWPORT, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def load_chat_sample() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chat_sample_server", REPO / "samples" / "chat" / "server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def chromium_or_skip() -> str:
    """Debian's Chromium: installed if missing and we may install it, else the tests skip and say why."""
    if CHROMIUM.exists():
        return str(CHROMIUM)
    is_root = getattr(os, "geteuid", lambda: -1)() == 0
    if not is_root or shutil.which("apt-get") is None:
        pytest.skip(f"{CHROMIUM} is missing and cannot be installed here (needs root and apt-get): "
                    "run `apt-get install -y chromium` as root, as .ci/run does")
    finished = subprocess.run(["sh", "-c", "apt-get update && apt-get install -y chromium"],
                              capture_output=True, text=True, timeout=INSTALL_SECONDS,
                              env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    if finished.returncode != 0 or not CHROMIUM.exists():
        pytest.fail(f"apt-get install -y chromium failed (exit {finished.returncode}):\n{finished.stderr[-2000:]}")
    return str(CHROMIUM)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_or_skip()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, timeout=WAIT_MS)
        yield launched
        launched.close()


class Chat:
    """The sample's server and its emulator, running in this process."""

    def __init__(self, url: str, connection_string: str) -> None:
        self.url = url
        self.service = WebPubSubServiceClient.from_connection_string(connection_string, hub="chat")


@pytest.fixture(scope="module")
def chat() -> Iterator[Chat]:
    sample = load_chat_sample()
    server = sample.listen(0)
    with sample.chat_with_emulator(server) as emulator:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield Chat(f"http://127.0.0.1:{server.server_address[1]}/", emulator.connection_string)
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=WAIT_MS / 1000)


class Person:
    """One browser context with the chat open, and everything that went wrong in it."""

    def __init__(self, context: BrowserContext, url: str) -> None:
        context.set_default_timeout(WAIT_MS)
        self.context = context
        self.problems: List[str] = []
        self.page = context.new_page()
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))
        self.page.on("requestfailed", lambda request: self.problems.append(
            f"request failed: {request.url} {request.failure}"))
        self.page.on("response", self._on_response)
        self.page.goto(url)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def _on_response(self, response: Response) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def join(self, name: str) -> None:
        self.page.fill("#name", name)
        self.page.click("#join button")
        expect(self.page.locator("#status")).to_have_text(f"Online as {name}")

    def say(self, text: str) -> None:
        self.page.fill("#text", text)
        self.page.press("#text", "Enter")

    def messages(self) -> Any:
        return self.page.locator("#messages > li")

    def line(self, text: str) -> Any:
        """The chat line (not a notice) containing ``text``. A person's own first line is looked up by its
        text, not as the last item: the service sends the ``connected`` event asynchronously, so the
        "carol joined" notice it leads to may arrive after carol's first line."""
        return self.page.locator("#messages > li.message", has_text=text)

    def expect_online(self, *names: str) -> None:
        expect(self.page.locator("#online li")).to_have_text(list(names))

    def overflow(self, selector: str) -> Any:
        """How far the element's content sticks out sideways (0 when it fits)."""
        return self.page.eval_on_selector(selector, "element => element.scrollWidth - element.clientWidth")

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


@pytest.fixture
def open_chat(browser: Browser, chat: Chat) -> Iterator[Callable[..., Person]]:
    people: List[Person] = []

    def open_as(**context_options: Any) -> Person:
        context_options.setdefault("viewport", DESKTOP)
        person = Person(browser.new_context(**context_options), chat.url)
        people.append(person)
        return person

    yield open_as
    for person in people:
        person.context.close()
    problems = [problem for person in people for problem in person.problems]
    assert not problems, "the page reported problems:\n" + "\n".join(problems)


def test_two_people_chat_both_ways_and_see_each_other_come_and_go(open_chat: Callable[..., Person]) -> None:
    alice, bob = open_chat(), open_chat()
    alice.join("alice")
    alice.expect_online("alice (you)")
    bob.join("bob")
    expect(alice.messages().last).to_have_text("bob joined")
    alice.expect_online("alice (you)", "bob")
    bob.expect_online("alice", "bob (you)")

    alice.say("Hi Bob!")
    expect(bob.messages().last).to_contain_text("Hi Bob!")
    expect(bob.messages().last).to_contain_text("alice")
    expect(bob.messages().last).not_to_have_class("message mine")
    expect(alice.messages().last).to_have_class("message mine")

    bob.say("Hello Alice <b>not bold</b>")
    expect(alice.messages().last).to_contain_text("Hello Alice <b>not bold</b>")  # text, never markup
    expect(bob.messages().last).to_have_class("message mine")
    alice.screenshot("chat-desktop")
    bob.screenshot("chat-desktop-bob")

    bob.page.click("#leave")
    expect(bob.page.locator("#join")).to_be_visible()
    expect(alice.messages().last).to_have_text("bob left")
    alice.expect_online("alice (you)")


def test_a_very_long_word_wraps_inside_the_message_list(open_chat: Callable[..., Person]) -> None:
    carol = open_chat()
    carol.join("carol")
    carol.say("Supercalifragilistic" * 20)
    expect(carol.line("Supercalifragilistic")).to_have_count(1)
    assert carol.overflow("#messages") == 0
    assert carol.overflow("html") == 0


def test_the_phone_layout_has_no_horizontal_scroll(open_chat: Callable[..., Person]) -> None:
    dave = open_chat(**PHONE)
    assert dave.overflow("html") == 0  # the join form
    dave.screenshot("chat-phone-join")
    dave.join("dave")
    dave.say("Typing on a phone with a long link: https://example.invalid/" + "path/" * 40)
    expect(dave.line("Typing on a phone")).to_have_count(1)
    assert dave.page.evaluate("window.innerWidth") == PHONE_VIEWPORT["width"]  # the viewport meta works
    assert dave.overflow("html") == 0
    assert dave.overflow("#messages") == 0
    dave.screenshot("chat-phone")


def test_a_dropped_connection_shows_reconnecting_until_it_is_back(
        open_chat: Callable[..., Person], chat: Chat) -> None:
    erin = open_chat()
    erin.join("erin")
    banner = erin.page.locator("#banner")
    expect(banner).to_be_hidden()

    # Hold the page's next /negotiate, so "reconnecting" stays up until the test lets it through.
    held: List[Route] = []
    erin.page.route("**/negotiate*", lambda route: held.append(route))
    chat.service.close_user_connections("erin", reason="test drops the connection")
    expect(banner).to_be_visible()
    expect(erin.page.locator("#status")).to_have_text("Reconnecting…")
    expect(erin.page.locator("#send")).to_be_disabled()
    erin.screenshot("chat-reconnecting")

    deadline = time.monotonic() + WAIT_MS / 1000
    while not held and time.monotonic() < deadline:
        erin.page.wait_for_timeout(50)  # lets Playwright deliver the held request
    assert held, "the page did not try to reconnect"
    held[0].continue_()
    erin.page.unroute("**/negotiate*")
    expect(banner).to_be_hidden()
    expect(erin.page.locator("#status")).to_have_text("Online as erin")
    erin.say("still here")
    expect(erin.line("still here")).to_have_count(1)
