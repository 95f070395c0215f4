/**
 * Fuzzing: arbitrary bytes and arbitrary frame sequences. The decoder may only return frames or
 * throw lifeline's own typed error; the server's handshake and the sessions may not throw at all
 * (they turn every failure into a CLOSE with a code). Everything is synchronous and bounded, so a
 * hang would show as a test timeout.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  AuthMethod,
  ClientSession,
  concatBytes,
  encodeFrameBytes,
  encodePreamble,
  FrameDecoder,
  isLifelineError,
  ServerLink,
  ServerSession,
  SessionState,
  type Frame,
  type Session,
} from "../../src/core/index.js";
import { frameArbitrary, splitAt } from "../support/arbitraries.js";
import { FakeEnv } from "../support/fake-env.js";
import { propertyRuns, propertySeed } from "../support/property.js";

const options = { seed: propertySeed(), numRuns: propertyRuns(1000) };
const LIMITS = { sendBudget: 4096, channelSendBudget: 2048, receiveWindow: 1024 };
const HELLO: Frame = {
  kind: "hello",
  receiveWindow: 1024,
  authMethod: AuthMethod.BearerToken,
  authData: new Uint8Array(4),
};

/** Random bytes, sometimes starting with a valid preamble so that frame parsing is reached. */
const hostileBytes = fc.oneof(
  fc.uint8Array({ maxLength: 2000 }),
  fc.uint8Array({ maxLength: 2000 }).map((b) => concatBytes([encodePreamble(1), b])),
  fc
    .array(fc.oneof(frameArbitrary.map(encodeFrameBytes), fc.uint8Array({ maxLength: 40 })), {
      maxLength: 10,
    })
    .map((parts) => concatBytes([encodePreamble(1), ...parts])),
);

test("fuzz: the decoder yields frames or lifeline's typed error, nothing else", () => {
  fc.assert(
    fc.property(
      hostileBytes,
      fc.boolean(),
      fc.array(fc.nat(), { maxLength: 20 }),
      (bytes, preamble, cuts) => {
        const decoder = new FrameDecoder({ expectPreamble: preamble });
        for (const part of splitAt(bytes, cuts)) {
          try {
            for (const frame of decoder.push(part)) assert.equal(typeof frame.kind, "string");
          } catch (err) {
            assert.ok(isLifelineError(err), `only LifelineError escapes, got ${String(err)}`);
            return;
          }
        }
      },
    ),
    options,
  );
});

test("fuzz: the server's link handshake never throws, and refuses with a CLOSE or silence", () => {
  fc.assert(
    fc.property(hostileBytes, fc.array(fc.nat(), { maxLength: 20 }), (bytes, cuts) => {
      const link = new ServerLink(10_000);
      let requested = false;
      for (const part of splitAt(bytes, cuts)) requested = link.receive(part) !== undefined || requested;
      link.tick(20_000);
      assert.ok(
        requested || link.failure !== undefined,
        "by the deadline, a link has made its request or been refused",
      );
      if (link.failure && link.failure.code !== "BAD_MAGIC") {
        const out = new FrameDecoder({ expectPreamble: true }).push(concatBytes(link.takeOutput()));
        assert.equal(out.at(-1)?.kind, "close", "a refusal ends with CLOSE");
      }
    }),
    options,
  );
});

function serverSession(env: FakeEnv): Session {
  const link = new ServerLink(env.now() + 10_000);
  const request = link.receive(concatBytes([encodePreamble(1), encodeFrameBytes(HELLO)]));
  assert.equal(request?.kind, "hello");
  return new ServerSession(
    request as typeof HELLO & { kind: "hello" },
    link.decoder,
    { limits: LIMITS },
    env,
  );
}

function clientSession(env: FakeEnv): Session {
  const client = new ClientSession(
    { authMethod: AuthMethod.BearerToken, authData: new Uint8Array(4), limits: LIMITS },
    env,
  );
  const link = client.linkUp();
  client.openChannel("default");
  client.receive(
    link,
    concatBytes([
      encodePreamble(1),
      encodeFrameBytes({
        kind: "welcome",
        sessionId: new Uint8Array(16),
        resumeSecret: new Uint8Array(32),
        sessionTimeoutMs: 180_000,
        keepaliveIntervalMs: 3000,
        deadAfterMs: 5000,
        maxChannels: 8,
        receiveWindow: 1024,
      }),
    ]),
  );
  assert.equal(client.state, SessionState.Established);
  return client;
}

for (const [role, make] of [
  ["server", serverSession],
  ["client", clientSession],
] as const) {
  test(`fuzz: an established ${role} session survives any frame sequence without throwing`, () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            { weight: 5, arbitrary: frameArbitrary.map(encodeFrameBytes) },
            { weight: 1, arbitrary: fc.uint8Array({ maxLength: 30 }) },
          ),
          {
            maxLength: 25,
          },
        ),
        fc.array(fc.nat(), { maxLength: 20 }),
        (parts, cuts) => {
          const env = new FakeEnv();
          const session = make(env);
          const link = session.currentLink as number;
          for (const part of splitAt(concatBytes(parts), cuts)) {
            session.receive(link, part);
            session.tick();
            session.pollTransmit();
            for (const e of session.takeEvents()) {
              if (e.type === "data") session.consume(e.channel, e.bytes.length);
              if (e.type === "open-request") (session as ServerSession).acceptChannel(e.channel);
            }
            assert.ok(session.bufferedTotal <= LIMITS.sendBudget);
          }
          env.advance(200_000);
          session.tick();
          if (session.isClosed()) {
            assert.equal(session.nextDeadline(), undefined, "a closed session arms no timer");
          }
        },
      ),
      options,
    );
  });
}
