// Drives the official Azure Web PubSub JS SDKs (@azure/web-pubsub, @azure/web-pubsub-client) against a
// running emulator and prints one JSON object: {"<scenario>": {"ok": true, "result": ...} | {"ok": false, "error": "..."}}.
//
//   WEBPUBSUB_CONNECTION_STRING=... node scenarios.mjs [scenario ...]    (no names: run them all)
//
// Optional: WEBPUBSUB_EVENTS_HUB names a hub whose user events reach an upstream handler that answers
// event "echo" with {"echo": data} and fails event "fail".
// Each scenario uses a hub of its own, so scenarios can run side by side; each is bounded by SCENARIO_MS.
// Scenarios return plain facts (what the SDK reported); the Python test decides what is right.

import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { WebPubSubServiceClient, odata } from "@azure/web-pubsub";
import {
  SendMessageError,
  WebPubSubClient,
  WebPubSubJsonProtocol,
  WebPubSubJsonReliableProtocol,
} from "@azure/web-pubsub-client";

const CONNECTION_STRING = process.env.WEBPUBSUB_CONNECTION_STRING;
const EVENTS_HUB = process.env.WEBPUBSUB_EVENTS_HUB;
const SCENARIO_MS = 20000; // upper bound for one scenario
const WAIT_MS = 8000; // upper bound for any one thing a scenario waits for
const PARALLEL = 4;
// The emulator speaks plain http (no TLS); the server SDK refuses http endpoints unless told this is intended.
const SERVICE_OPTIONS = { allowInsecureConnection: true };
const PROTOCOLS = { json: WebPubSubJsonProtocol, reliable: WebPubSubJsonReliableProtocol };

// ---- helpers ---------------------------------------------------------------------------------

/** Binary payloads arrive as ArrayBuffer; JSON cannot carry them, so they become {"base64": "..."}. */
function plain(value) {
  if (value instanceof ArrayBuffer) return { base64: Buffer.from(value).toString("base64") };
  if (ArrayBuffer.isView(value)) return { base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

async function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** `what` names the awaited thing in the timeout error; a function is asked only then, for the latest facts. */
async function waitUntil(what, predicate, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === "function" ? what() : what}`);
    await sleep(20);
  }
}

/** What an SDK call threw, in plain data: the REST status and body, or the ack error. */
async function failure(promise) {
  try {
    await promise;
  } catch (error) {
    const seen = { name: error.name, message: error.message };
    if (error.statusCode !== undefined) seen.statusCode = error.statusCode;
    if (error.code !== undefined) seen.code = error.code;
    if (error instanceof SendMessageError) seen.errorDetail = error.errorDetail ?? null;
    return seen;
  }
  return null;
}

function jwtPayload(token) {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
}

/** A TCP relay in front of the emulator, so a scenario can cut sockets like a network failure would. */
class Relay {
  constructor(port) {
    this.port = port;
    this.pairs = new Set();
    this.refusing = false;
    this.server = net.createServer((downstream) => {
      if (this.refusing) {
        downstream.destroy();
        return;
      }
      const upstream = net.connect(this.port, "127.0.0.1");
      const pair = [downstream, upstream];
      this.pairs.add(pair);
      const end = () => {
        downstream.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      for (const socket of pair) socket.on("error", end).on("close", end);
      downstream.pipe(upstream);
      upstream.pipe(downstream);
    });
  }
  async listen() {
    await new Promise((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return this.server.address().port;
  }
  /** Destroys every relayed socket without a close handshake and refuses new ones until `resume()`. */
  cut() {
    this.refusing = true;
    for (const pair of this.pairs) for (const socket of pair) socket.destroy();
  }
  resume() {
    this.refusing = false;
  }
  async close() {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** Everything a scenario needs; `cleanup()` stops every client it started. */
class Context {
  constructor(hub) {
    this.hub = hub;
    this.service = new WebPubSubServiceClient(CONNECTION_STRING, hub, SERVICE_OPTIONS);
    this.clients = [];
    this.relays = [];
  }

  /** Starts an official WebPubSubClient and records every event it emits. */
  async client({ protocol = "json", token = {}, options = {}, relay = null, negotiate = false } = {}) {
    let service = this.service;
    if (relay) {
      // The client token's audience must name the host the client really dials: the relay.
      const port = await relay.listen();
      service = new WebPubSubServiceClient(CONNECTION_STRING.replace(/:\d+(?=;|\/|$)/, `:${port}`), this.hub, SERVICE_OPTIONS);
    }
    let negotiations = 0;
    // `negotiate`: what a browser app does, asking its server for a fresh URL before every new connection.
    const credential = negotiate
      ? { getClientAccessUrl: async () => { negotiations += 1; return (await service.getClientAccessToken(token)).url; } }
      : (await service.getClientAccessToken(token)).url;
    const client = new WebPubSubClient(credential, { protocol: PROTOCOLS[protocol](), ...options });
    const events = [];
    for (const name of ["connected", "disconnected", "stopped", "server-message", "group-message", "rejoin-group-failed"]) {
      client.on(name, (event) => events.push({ event: name, ...plain(name.endsWith("message") ? event.message : event) }));
    }
    const handle = {
      client,
      events,
      of: (name) => events.filter((event) => event.event === name),
      /** Waits for the `count`th event named `name` and returns all of them so far. */
      waitFor: (name, count = 1) => waitUntil(() => `${count} '${name}' event(s); saw ${JSON.stringify(events)}`, () => {
        const found = handle.of(name);
        return found.length >= count ? found : null;
      }),
      connectionId: null,
      negotiations: () => negotiations,
    };
    this.clients.push(client);
    await within(WAIT_MS, "start()", client.start());
    const [connected] = await handle.waitFor("connected");
    handle.connectionId = connected.connectionId;
    return handle;
  }

  relay() {
    const port = Number(/Endpoint=[^;]*:(\d+)/.exec(CONNECTION_STRING)[1]);
    const relay = new Relay(port);
    this.relays.push(relay);
    return relay;
  }

  async cleanup() {
    for (const client of this.clients) client.stop();
    await Promise.all(this.relays.map((relay) => relay.close()));
  }
}

// ---- scenarios -------------------------------------------------------------------------------

const scenarios = new Map();
function scenario(name, run) {
  scenarios.set(name, run);
}
/** A client scenario, once per JSON protocol: `<name>[json]` and `<name>[reliable]`. */
function clientScenario(name, run) {
  for (const protocol of Object.keys(PROTOCOLS)) scenario(`${name}[${protocol}]`, (ctx) => run(ctx, protocol));
}
const NO_RETRY = { messageRetryOptions: { maxRetries: 0 } };

// -- server SDK: sends

scenario("send_to_all_text_json_binary", async (ctx) => {
  const alice = await ctx.client();
  await ctx.service.sendToAll("plain text", { contentType: "text/plain" });
  await ctx.service.sendToAll({ hello: "json", n: 1 });
  await ctx.service.sendToAll("a JSON string");
  await ctx.service.sendToAll(new Uint8Array([0, 1, 255]));
  await ctx.service.sendToAll(new Uint8Array([7, 8]).buffer, { messageTtlSeconds: 60 });
  const messages = await alice.waitFor("server-message", 5);
  return messages.map(({ from, dataType, data, group }) => ({ from, dataType, data, group: group ?? null }));
});

scenario("send_to_all_filter", async (ctx) => {
  const alice = await ctx.client({ token: { userId: "alice", groups: ["vip"] } });
  const bob = await ctx.client({ token: { userId: "bob" } });
  await ctx.service.sendToAll("only alice", { contentType: "text/plain", filter: odata`userId eq ${"alice"}` });
  await ctx.service.sendToAll("only vip", { contentType: "text/plain", filter: "'vip' in groups" });
  await ctx.service.sendToAll({ everyone: true });
  await alice.waitFor("server-message", 3);
  await bob.waitFor("server-message", 1);
  await sleep(200); // anything wrongly delivered to bob would be here by now
  return { alice: alice.of("server-message").map((m) => m.data), bob: bob.of("server-message").map((m) => m.data) };
});

scenario("send_to_all_excluded_connections", async (ctx) => {
  const alice = await ctx.client();
  const bob = await ctx.client();
  await ctx.service.sendToAll("not for alice", { contentType: "text/plain", excludedConnections: [alice.connectionId] });
  await ctx.service.sendToAll("for both", { contentType: "text/plain" });
  await alice.waitFor("server-message", 1);
  await bob.waitFor("server-message", 2);
  await sleep(200);
  return { alice: alice.of("server-message").map((m) => m.data), bob: bob.of("server-message").map((m) => m.data) };
});

scenario("send_to_group", async (ctx) => {
  const alice = await ctx.client({ token: { userId: "alice", groups: ["room"] } });
  const bob = await ctx.client({ token: { userId: "bob", groups: ["room"] } });
  const carol = await ctx.client({ token: { userId: "carol" } });
  const room = ctx.service.group("room");
  await room.sendToAll("hi room", { contentType: "text/plain" });
  await room.sendToAll({ json: "for the room" }, { excludedConnections: [alice.connectionId] });
  await room.sendToAll(new Uint8Array([1, 2, 3]), { filter: odata`userId ne ${"bob"}` });
  await alice.waitFor("group-message", 2);
  await bob.waitFor("group-message", 2);
  await sleep(200);
  const seen = (handle) => handle.events.filter((e) => e.event.endsWith("message"))
    .map(({ event, from, group, dataType, data, fromUserId }) => ({ event, from, group, dataType, data, fromUserId: fromUserId ?? null }));
  return { alice: seen(alice), bob: seen(bob), carol: seen(carol) };
});

scenario("send_to_user_and_connection", async (ctx) => {
  const alice1 = await ctx.client({ token: { userId: "alice" } });
  const alice2 = await ctx.client({ token: { userId: "alice" } });
  const bob = await ctx.client({ token: { userId: "bob" } });
  await ctx.service.sendToUser("alice", "to alice", { contentType: "text/plain" });
  await ctx.service.sendToUser("alice", { filtered: true }, { filter: odata`connectionId eq ${alice2.connectionId}` });
  await ctx.service.sendToConnection(bob.connectionId, new Uint8Array([9]));
  await ctx.service.sendToConnection("no-such-connection", "nobody", { contentType: "text/plain" });
  await ctx.service.sendToUser("nobody", "nobody", { contentType: "text/plain" });
  await alice1.waitFor("server-message", 1);
  await alice2.waitFor("server-message", 2);
  await bob.waitFor("server-message", 1);
  await sleep(200);
  const data = (handle) => handle.of("server-message").map((m) => m.data);
  return { alice1: data(alice1), alice2: data(alice2), bob: data(bob) };
});

scenario("invalid_filter", async (ctx) => {
  const filter = "invalid filter";
  const body = (seen) => {
    if (!seen) return null;
    let message = null;
    try {
      message = JSON.parse(seen.message).message; // the SDK's own tests read the raw body this way
    } catch {
      message = seen.message;
    }
    return { statusCode: seen.statusCode, message };
  };
  return {
    sendToAll: body(await failure(ctx.service.sendToAll("x", { contentType: "text/plain", filter }))),
    sendToUser: body(await failure(ctx.service.sendToUser("u", "x", { contentType: "text/plain", filter }))),
    groupSendToAll: body(await failure(ctx.service.group("g").sendToAll("x", { contentType: "text/plain", filter }))),
    addConnectionsToGroups: body(await failure(ctx.service.addConnectionsToGroups(["g"], filter))),
  };
});

// -- server SDK: groups, users, connections

scenario("group_membership", async (ctx) => {
  const alice = await ctx.client({ token: { userId: "alice" } });
  const bob = await ctx.client({ token: { userId: "bob" } });
  const room = ctx.service.group("room");
  const steps = {};
  steps.before = await ctx.service.groupExists("room");
  await room.addConnection(alice.connectionId);
  steps.afterAddConnection = await ctx.service.groupExists("room");
  await room.addUser("bob");
  await room.sendToAll("members", { contentType: "text/plain" });
  await alice.waitFor("group-message");
  await bob.waitFor("group-message");
  await room.removeConnection(alice.connectionId);
  await room.removeUser("bob");
  steps.afterRemoving = await ctx.service.groupExists("room");
  await ctx.service.addConnectionsToGroups(["a", "b"], odata`userId eq ${"alice"}`);
  steps.afterBulkAdd = [await ctx.service.groupExists("a"), await ctx.service.groupExists("b")];
  await ctx.service.removeConnectionsFromGroups(["a"], "userId eq 'alice'");
  steps.afterBulkRemove = [await ctx.service.groupExists("a"), await ctx.service.groupExists("b")];
  await ctx.service.removeConnectionFromAllGroups(alice.connectionId);
  steps.afterRemoveConnectionFromAll = await ctx.service.groupExists("b");
  await room.addUser("bob");
  await ctx.service.removeUserFromAllGroups("bob");
  steps.afterRemoveUserFromAll = await ctx.service.groupExists("room");
  steps.addMissingConnection = await failure(room.addConnection("no-such-connection"));
  steps.addUserWithoutConnection = await failure(room.addUser("nobody"));
  steps.removeMissingConnection = await failure(room.removeConnection("no-such-connection"));
  return steps;
});

scenario("list_connections_in_group", async (ctx) => {
  const alice = await ctx.client({ token: { userId: "alice", groups: ["room"] } });
  const anonymous = await ctx.client({ token: { groups: ["room"] } });
  const members = [];
  for await (const member of await ctx.service.group("room").listConnections()) members.push(member);
  const pages = [];
  for await (const page of (await ctx.service.group("room").listConnections({ maxPageSize: 1 })).byPage()) {
    pages.push(page.map((m) => m.connectionId));
  }
  const empty = [];
  for await (const member of await ctx.service.group("nobody-here").listConnections()) empty.push(member);
  return {
    expected: { [alice.connectionId]: "alice", [anonymous.connectionId]: null },
    members: members.map((m) => ({ connectionId: m.connectionId, userId: m.userId ?? null })),
    pages,
    empty,
  };
});

scenario("exists", async (ctx) => {
  const alice = await ctx.client({ token: { userId: "alice", groups: ["room"] } });
  return {
    userExists: await ctx.service.userExists("alice"),
    userMissing: await ctx.service.userExists("bob"),
    connectionExists: await ctx.service.connectionExists(alice.connectionId),
    connectionMissing: await ctx.service.connectionExists("no-such-connection"),
    groupExists: await ctx.service.groupExists("room"),
    groupMissing: await ctx.service.groupExists("empty"),
  };
});

// -- server SDK: closing connections. autoReconnect is off so that the clients stay closed.

const STAY_CLOSED = { autoReconnect: false };
async function closedEvents(handle) {
  await handle.waitFor("stopped");
  return handle.events.filter((e) => e.event !== "server-message")
    .map(({ event, connectionId, message }) => ({ event, connectionId: connectionId ?? null, message: message ?? null }));
}

scenario("close_connection", async (ctx) => {
  const alice = await ctx.client({ options: STAY_CLOSED });
  const bob = await ctx.client({ options: STAY_CLOSED });
  await ctx.service.closeConnection(alice.connectionId, { reason: "bye alice" });
  const events = await closedEvents(alice);
  return {
    connectionId: alice.connectionId,
    events,
    aliceExists: await ctx.service.connectionExists(alice.connectionId),
    bobExists: await ctx.service.connectionExists(bob.connectionId),
    closeMissing: await failure(ctx.service.closeConnection("no-such-connection")),
  };
});

scenario("close_user_connections", async (ctx) => {
  const alice1 = await ctx.client({ token: { userId: "alice" }, options: STAY_CLOSED });
  const alice2 = await ctx.client({ token: { userId: "alice" }, options: STAY_CLOSED });
  const bob = await ctx.client({ token: { userId: "bob" }, options: STAY_CLOSED });
  await ctx.service.closeUserConnections("alice", { reason: "bye alice" });
  const events = [await closedEvents(alice1), await closedEvents(alice2)];
  return { events, aliceExists: await ctx.service.userExists("alice"), bobExists: await ctx.service.userExists("bob"), bobEvents: bob.events.map((e) => e.event) };
});

scenario("close_group_connections", async (ctx) => {
  const alice = await ctx.client({ token: { groups: ["room"] }, options: STAY_CLOSED });
  const bob = await ctx.client({ options: STAY_CLOSED });
  await ctx.service.group("room").closeAllConnections({ reason: "room closed" });
  return {
    events: await closedEvents(alice),
    aliceExists: await ctx.service.connectionExists(alice.connectionId),
    bobExists: await ctx.service.connectionExists(bob.connectionId),
  };
});

scenario("close_all_connections", async (ctx) => {
  const handles = [await ctx.client({ options: STAY_CLOSED }), await ctx.client({ options: STAY_CLOSED })];
  await ctx.service.closeAllConnections({ reason: "maintenance" });
  const events = [];
  for (const handle of handles) events.push(await closedEvents(handle));
  const exists = [];
  for (const handle of handles) exists.push(await ctx.service.connectionExists(handle.connectionId));
  return { events, exists };
});

// -- server SDK: permissions

scenario("permissions", async (ctx) => {
  const alice = await ctx.client({ options: NO_RETRY });
  const bob = await ctx.client({ token: { groups: ["room"] } });
  const id = alice.connectionId;
  const seen = {};
  seen.initially = {
    join: await ctx.service.hasPermission(id, "joinLeaveGroup", { targetName: "room" }),
    send: await ctx.service.hasPermission(id, "sendToGroup", { targetName: "room" }),
  };
  seen.joinDenied = await failure(alice.client.joinGroup("room"));
  seen.sendDenied = await failure(alice.client.sendToGroup("room", "x", "text"));
  await ctx.service.grantPermission(id, "joinLeaveGroup", { targetName: "room" });
  await ctx.service.grantPermission(id, "sendToGroup", { targetName: "room" });
  seen.granted = {
    join: await ctx.service.hasPermission(id, "joinLeaveGroup", { targetName: "room" }),
    send: await ctx.service.hasPermission(id, "sendToGroup", { targetName: "room" }),
    otherGroup: await ctx.service.hasPermission(id, "sendToGroup", { targetName: "other" }),
  };
  seen.joinAllowed = await failure(alice.client.joinGroup("room"));
  seen.sendAllowed = await failure(alice.client.sendToGroup("room", "from alice", "text"));
  await bob.waitFor("group-message");
  await ctx.service.revokePermission(id, "sendToGroup", { targetName: "room" });
  seen.revoked = await ctx.service.hasPermission(id, "sendToGroup", { targetName: "room" });
  seen.sendAfterRevoke = await failure(alice.client.sendToGroup("room", "x", "text"));
  seen.missingConnection = await ctx.service.hasPermission("no-such-connection", "sendToGroup", { targetName: "room" });
  seen.grantMissingConnection = await failure(ctx.service.grantPermission("no-such-connection", "sendToGroup", { targetName: "room" }));
  seen.bobReceived = bob.of("group-message").map((m) => m.data);
  return seen;
});

// -- server SDK: client access tokens

scenario("client_access_token", async (ctx) => {
  const full = await ctx.service.getClientAccessToken({
    userId: "alice", roles: ["webpubsub.sendToGroup", "webpubsub.joinLeaveGroup.lobby"], groups: ["room"], expirationTimeInMinutes: 5,
  });
  const bare = await ctx.service.getClientAccessToken();
  const claims = jwtPayload(full.token);
  // Connect with it: the user, the group and the roles must all take effect.
  const alice = await ctx.client({
    token: { userId: "alice", roles: ["webpubsub.sendToGroup", "webpubsub.joinLeaveGroup.lobby"], groups: ["room"] }, options: NO_RETRY,
  });
  await ctx.service.group("room").sendToAll("to the room", { contentType: "text/plain" });
  await alice.waitFor("group-message");
  const anonymous = await ctx.client();
  return {
    hub: ctx.hub,
    baseUrl: full.baseUrl,
    urlHasToken: full.url === `${full.baseUrl}?access_token=${full.token}`,
    claims: { sub: claims.sub, role: claims.role, group: claims["webpubsub.group"], aud: claims.aud, lifetime: claims.exp - claims.iat },
    bareClaims: Object.keys(jwtPayload(bare.token)).sort(),
    bareLifetime: jwtPayload(bare.token).exp - jwtPayload(bare.token).iat,
    connectedUserId: alice.of("connected")[0].userId,
    anonymousUserId: anonymous.of("connected")[0].userId ?? null,
    groupMessage: alice.of("group-message")[0].data,
    sendToAnyGroup: await failure(alice.client.sendToGroup("anywhere", "x", "text")),
    joinLobby: await failure(alice.client.joinGroup("lobby")),
    joinElsewhere: await failure(alice.client.joinGroup("elsewhere")),
  };
});

scenario("client_access_token_expired_or_wrong_key", async (ctx) => {
  const expired = await ctx.service.getClientAccessToken({ expirationTimeInMinutes: -10 });
  const wrongKey = new WebPubSubServiceClient(CONNECTION_STRING.replace(/AccessKey=[^;]*/, "AccessKey=" + "x".repeat(44)), ctx.hub, SERVICE_OPTIONS);
  const forged = await wrongKey.getClientAccessToken();
  const attempt = async (url) => failure(new WebPubSubClient(url, { protocol: WebPubSubJsonProtocol(), autoReconnect: false }).start());
  return {
    expired: await within(WAIT_MS, "the expired token to be refused", attempt(expired.url)),
    forged: await within(WAIT_MS, "the forged token to be refused", attempt(forged.url)),
    restWithWrongKey: await failure(wrongKey.sendToAll("x", { contentType: "text/plain" })),
  };
});

// -- client SDK (both JSON protocols)

clientScenario("client_start_and_stop", async (ctx, protocol) => {
  const alice = await ctx.client({ protocol, token: { userId: "alice" } });
  const existsWhileOpen = await ctx.service.connectionExists(alice.connectionId);
  alice.client.stop();
  await alice.waitFor("stopped");
  const gone = await waitUntil("the stopped client's connection to go", async () => !(await ctx.service.connectionExists(alice.connectionId)), 3000)
    .catch(() => false);
  return { connected: alice.of("connected"), events: alice.events.map((e) => e.event), existsWhileOpen, goneAfterStop: gone };
});

clientScenario("client_group_round_trip", async (ctx, protocol) => {
  const roles = ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"];
  const alice = await ctx.client({ protocol, token: { userId: "alice", roles } });
  const bob = await ctx.client({ protocol, token: { userId: "bob", roles } });
  const acks = {};
  acks.aliceJoin = await alice.client.joinGroup("room");
  acks.bobJoin = await bob.client.joinGroup("room");
  acks.text = await alice.client.sendToGroup("room", "hello", "text");
  acks.json = await alice.client.sendToGroup("room", { hello: ["json"] }, "json");
  acks.binary = await alice.client.sendToGroup("room", new Uint8Array([1, 2, 3]).buffer, "binary");
  acks.fireAndForget = await alice.client.sendToGroup("room", "no ack", "text", { fireAndForget: true });
  const received = await bob.waitFor("group-message", 4);
  await alice.waitFor("group-message", 4); // no noEcho: alice hears herself
  acks.bobLeave = await bob.client.leaveGroup("room");
  await alice.client.sendToGroup("room", "after bob left", "text");
  await alice.waitFor("group-message", 5);
  await sleep(200);
  return {
    acks,
    bob: bob.of("group-message").map(({ group, fromUserId, dataType, data, sequenceId }) => ({ group, fromUserId, dataType, data, hasSequenceId: sequenceId != null })),
    bobCountAfterLeaving: bob.of("group-message").length,
    receivedBeforeLeaving: received.length,
  };
});

clientScenario("client_no_echo", async (ctx, protocol) => {
  const alice = await ctx.client({ protocol, token: { userId: "alice", groups: ["room"], roles: ["webpubsub.sendToGroup"] } });
  const bob = await ctx.client({ protocol, token: { userId: "bob", groups: ["room"] } });
  await alice.client.sendToGroup("room", "quiet", "text", { noEcho: true });
  await alice.client.sendToGroup("room", "loud", "text", { noEcho: false });
  await bob.waitFor("group-message", 2);
  await alice.waitFor("group-message", 1);
  await sleep(200);
  return { alice: alice.of("group-message").map((m) => m.data), bob: bob.of("group-message").map((m) => m.data) };
});

clientScenario("client_duplicate_ack_id", async (ctx, protocol) => {
  const alice = await ctx.client({ protocol, token: { groups: ["room"], roles: ["webpubsub.sendToGroup"] } });
  const first = await alice.client.sendToGroup("room", "once", "text", { ackId: 42 });
  const second = await alice.client.sendToGroup("room", "once", "text", { ackId: 42 });
  await alice.waitFor("group-message");
  await sleep(200);
  return { first, second, received: alice.of("group-message").map((m) => m.data) };
});

clientScenario("client_send_event", async (ctx, protocol) => {
  if (!EVENTS_HUB) throw new Error("WEBPUBSUB_EVENTS_HUB is not set");
  const events = new Context(EVENTS_HUB);
  try {
    const alice = await events.client({ protocol, token: { userId: "alice" }, options: NO_RETRY });
    const answered = await alice.client.sendEvent("echo", { text: "hi" }, "json");
    await alice.waitFor("server-message");
    const text = await alice.client.sendEvent("echo", "plain", "text");
    await alice.waitFor("server-message", 2);
    const failed = await failure(alice.client.sendEvent("fail", "x", "text"));
    const fireAndForget = await alice.client.sendEvent("echo", "ff", "text", { fireAndForget: true });
    await alice.waitFor("server-message", 3);
    return {
      answered,
      text,
      failed,
      fireAndForget,
      replies: alice.of("server-message").map(({ from, dataType, data }) => ({ from, dataType, data })),
      stillConnected: await events.service.connectionExists(alice.connectionId),
    };
  } finally {
    await events.cleanup();
  }
});

clientScenario("client_server_close_is_reported", async (ctx, protocol) => {
  const alice = await ctx.client({ protocol, options: STAY_CLOSED });
  await ctx.service.closeConnection(alice.connectionId, { reason: "kicked" });
  return { connectionId: alice.connectionId, events: await closedEvents(alice) };
});

clientScenario("client_reconnects_after_server_close", async (ctx, protocol) => {
  const alice = await ctx.client({
    protocol, negotiate: true, token: { userId: "alice", roles: ["webpubsub.joinLeaveGroup"] },
    options: { reconnectRetryOptions: { retryDelayInMs: 100 } },
  });
  await alice.client.joinGroup("room");
  await ctx.service.closeConnection(alice.connectionId, { reason: "restart" });
  const [, second] = await alice.waitFor("connected", 2);
  // autoRejoinGroups: the new connection is back in the group.
  await waitUntil("alice to rejoin the room", () => ctx.service.groupExists("room"));
  await ctx.service.group("room").sendToAll("welcome back", { contentType: "text/plain" });
  await alice.waitFor("group-message");
  return {
    first: alice.connectionId,
    second: second.connectionId,
    negotiations: alice.negotiations(),
    events: alice.events.map(({ event, connectionId, message }) => ({ event, connectionId: connectionId ?? null, message: message ?? null })),
  };
});

clientScenario("client_survives_a_dropped_socket", async (ctx, protocol) => {
  const relay = ctx.relay();
  const alice = await ctx.client({
    protocol, relay, token: { userId: "alice", roles: ["webpubsub.joinLeaveGroup"] }, options: { reconnectRetryOptions: { retryDelayInMs: 100 } },
  });
  await alice.client.joinGroup("room");
  await ctx.service.sendToAll("before the drop", { contentType: "text/plain" });
  await alice.waitFor("server-message");
  relay.cut(); // the network fails: no close frame either way, and no way back in for a moment
  await sleep(300);
  await ctx.service.sendToAll("during the drop", { contentType: "text/plain" });
  await ctx.service.group("room").sendToAll("to the room during the drop", { contentType: "text/plain" });
  relay.resume();
  if (protocol === "reliable") {
    await alice.waitFor("group-message"); // replayed once the session is recovered
  } else {
    await alice.waitFor("connected", 2); // a new connection
    await waitUntil("alice to rejoin the room", () => ctx.service.groupExists("room"));
  }
  await ctx.service.sendToAll("after the drop", { contentType: "text/plain" });
  await waitUntil("the message sent after the drop", () => alice.of("server-message").some((m) => m.data === "after the drop"));
  await sleep(200);
  const connected = alice.of("connected").map((e) => e.connectionId);
  return {
    connected,
    events: alice.events.map(({ event, data }) => ({ event, data: data ?? null })),
    originalExists: await ctx.service.connectionExists(connected[0]),
    currentExists: await ctx.service.connectionExists(connected[connected.length - 1]),
  };
});

clientScenario("client_keep_alive", async (ctx, protocol) => {
  // Pings every 200 ms; with no pong (or any other frame) for 2 s the client would drop the socket.
  const alice = await ctx.client({ protocol, options: { keepAliveIntervalInMs: 200, keepAliveTimeoutInMs: 2000, autoReconnect: false } });
  await sleep(3500);
  return { events: alice.events.map((e) => e.event) };
});

// ---- runner ----------------------------------------------------------------------------------

async function runOne(name) {
  const ctx = new Context(`js_${name.replace(/\W+/g, "_")}`);
  try {
    const result = await within(SCENARIO_MS, `scenario ${name}`, scenarios.get(name)(ctx));
    return { ok: true, result: plain(result) };
  } catch (error) {
    return { ok: false, error: String(error?.stack ?? error) };
  } finally {
    await within(WAIT_MS, "cleanup", ctx.cleanup()).catch(() => undefined);
  }
}

async function main() {
  if (!CONNECTION_STRING) throw new Error("set WEBPUBSUB_CONNECTION_STRING");
  const names = process.argv.slice(2).length ? process.argv.slice(2) : [...scenarios.keys()];
  const unknown = names.filter((name) => !scenarios.has(name));
  if (unknown.length) throw new Error(`unknown scenario(s): ${unknown.join(", ")}; known: ${[...scenarios.keys()].join(", ")}`);
  const results = {};
  const queue = [...names];
  const worker = async () => {
    for (let name = queue.shift(); name; name = queue.shift()) {
      const started = Date.now();
      results[name] = { ...(await runOne(name)), ms: Date.now() - started };
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  process.stdout.write(JSON.stringify(results) + "\n");
}

main().then(
  () => process.exit(0), // timers of stopped clients must not keep the process alive
  (error) => {
    process.stderr.write(String(error?.stack ?? error) + "\n");
    process.exit(2);
  },
);
