/** The session's scheduling queue, and what it is for: interactive traffic makes no old-generation garbage. */
import { test } from "node:test";
import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import { ChannelQueue } from "../../src/core/session/channel-queue.js";
import {
  AuthMethod,
  ClientSession,
  concatBytes,
  ServerLink,
  ServerSession,
  type HelloFrame,
} from "../../src/core/index.js";
import { FakeEnv } from "../support/fake-env.js";

interface Item {
  name: string;
  queued: number;
}

const item = (name: string): Item => ({ name, queued: 0 });

function drain(queue: ChannelQueue<Item>): string[] {
  const out: string[] = [];
  for (let it = queue.shift(); it; it = queue.shift()) out.push(it.name);
  return out;
}

/** The queue's slots, to check that it keeps no reference to what it no longer holds. */
function slots(queue: ChannelQueue<Item>): unknown[] {
  return (queue as unknown as { items: unknown[] }).items;
}

test("a channel queue keeps insertion order, holds each item once and forgets what it hands out", () => {
  const queue = new ChannelQueue<Item>(1);
  const [a, b, c, d] = [item("a"), item("b"), item("c"), item("d")];
  queue.add(a);
  queue.add(b);
  queue.add(a);
  queue.add(c);
  assert.equal(queue.size, 3);
  assert.ok(queue.has(b));
  queue.delete(b);
  assert.ok(!queue.has(b));
  queue.add(b);
  assert.deepEqual(drain(queue), ["a", "c", "b"], "a deleted item comes back at the end, as in a Set");
  assert.equal(queue.size, 0);
  assert.deepEqual([a.queued, b.queued, c.queued], [0, 0, 0]);
  assert.ok(
    slots(queue).every((slot) => slot === undefined),
    "no slot still refers to an item",
  );

  // Deleting the first and the last member after some have been shifted out.
  for (const it of [a, b, c, d]) queue.add(it);
  queue.shift();
  queue.delete(b);
  queue.delete(d);
  assert.deepEqual(drain(queue), ["c"]);
  queue.add(a);
  queue.delete(a);
  assert.equal(queue.size, 0);
  assert.ok(
    slots(queue).every((slot) => slot === undefined),
    "no slot still refers to an item",
  );
});

test("an item can be in several queues at once, each with its own bit", () => {
  const ready = new ChannelQueue<Item>(1);
  const acks = new ChannelQueue<Item>(2);
  const a = item("a");
  ready.add(a);
  acks.add(a);
  ready.clear();
  assert.ok(!ready.has(a));
  assert.ok(acks.has(a));
  assert.deepEqual(drain(acks), ["a"]);
});

test("a round-robin queue that never empties stays in order and does not grow", () => {
  const queue = new ChannelQueue<Item>(1);
  const items = ["a", "b", "c"].map(item);
  for (const it of items) queue.add(it);
  const order: string[] = [];
  for (let i = 0; i < 100_000; i++) {
    const it = queue.shift() as Item;
    order.push(it.name);
    queue.add(it);
  }
  assert.deepEqual(order.slice(0, 6), ["a", "b", "c", "a", "b", "c"]);
  assert.deepEqual(order.slice(-3), ["b", "c", "a"]);
  // Its slots are reused: the array holds a few times the members, not one slot per add.
  assert.ok(slots(queue).length <= 8, `${slots(queue).length} slots for 3 members`);
  queue.clear();
  assert.ok(
    slots(queue).every((slot) => slot === undefined),
    "no slot still refers to an item",
  );
});

test("once a session lives in the old generation, round trips add nothing there", () => {
  // A Set replaces its hash table on clear() and when it shrinks or rehashes, and in the old generation
  // once the Set lives there: scheduling with Sets left about 100 bytes of old garbage per frame there.
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  const env = new FakeEnv();
  const client = new ClientSession(
    { authMethod: AuthMethod.BearerToken, authData: new TextEncoder().encode("t"), limits: {} },
    env,
  );
  const channel = client.openChannel("default");
  const clientLink = client.linkUp();
  const serverLink = new ServerLink(env.now() + 10_000);
  const hello = serverLink.receive(concatBytes(client.pollTransmit()));
  assert.equal(hello?.kind, "hello");
  const server = new ServerSession(hello as HelloFrame, serverLink.decoder, { params: {}, limits: {} }, env);
  const link = server.currentLink as number;
  /** Carries what each side has to send to the other, and answers as the applications would. */
  const exchange = (): void => {
    server.receive(link, concatBytes(client.pollTransmit()));
    for (const event of server.takeEvents()) {
      if (event.type === "open-request") server.acceptChannel(event.channel);
      if (event.type === "data") {
        server.consume(event.channel, event.bytes.length);
        server.write(event.channel, event.bytes);
      }
    }
    client.receive(clientLink, concatBytes([...serverLink.takeOutput(), ...server.pollTransmit()]));
    for (const event of client.takeEvents()) {
      if (event.type === "data") client.consume(event.channel, event.bytes.length);
    }
  };
  const request = new Uint8Array(64);
  const roundTrips = (n: number): void => {
    for (let i = 0; i < n; i++) {
      client.write(channel, request);
      exchange();
      env.advance(1);
      server.tick();
      client.tick();
    }
  };
  for (let i = 0; i < 3; i++) exchange();
  roundTrips(2_000);
  assert.equal(client.channelBuffered(channel), 0, "every request was echoed and acknowledged");
  gc();
  gc();
  const oldSpace = (): number =>
    v8.getHeapSpaceStatistics().find((space) => space.space_name === "old_space")!.space_used_size;
  const before = oldSpace();
  roundTrips(20_000);
  const grown = oldSpace() - before;
  assert.ok(grown < 1 << 20, `the old generation grew by ${grown} bytes over 20,000 round trips`);
});
