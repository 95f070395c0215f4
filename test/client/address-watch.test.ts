/** The watch that tells a client its link's local address has left the machine (roaming). */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { NetworkInterfaceInfo } from "node:os";
import { AddressWatch, canonicalAddress } from "../../src/client/address-watch.js";

/** A watch over a list of addresses the test changes; checked by hand (its own timer is an hour). */
function watchOver(addresses: { now: string[] | Error }): AddressWatch {
  return new AddressWatch(() => {
    if (addresses.now instanceof Error) throw addresses.now;
    return { eth0: addresses.now.map((address) => ({ address }) as NetworkInterfaceInfo) };
  }, 3_600_000);
}

test("a socket whose address, once seen on an interface, is missing from two readings in a row is reported once", (t) => {
  const addresses = { now: ["127.0.0.1", "10.99.0.2"] };
  const watch = watchOver(addresses);
  const socket = { localAddress: "10.99.0.2" };
  let gone = 0;
  t.after(watch.watch(socket, () => gone++));
  watch.check();
  assert.equal(gone, 0, "present: nothing to report");
  addresses.now = ["127.0.0.1"];
  watch.check();
  addresses.now = ["127.0.0.1", "10.99.0.2"];
  watch.check();
  addresses.now = ["127.0.0.1"];
  watch.check();
  assert.equal(gone, 0, "missing from one reading only (a moment without carrier): kept");
  addresses.now = ["127.0.0.1", "10.99.0.3"];
  watch.check();
  assert.equal(gone, 1, "missing twice in a row: reported");
  watch.check();
  assert.equal(gone, 1, "and only once");
});

test("a socket watched after a reading that listed its address is judged from the next ones", (t) => {
  const addresses = { now: ["10.99.0.2"] };
  const watch = watchOver(addresses);
  t.after(watch.watch({ localAddress: "127.0.0.1" }, () => undefined)); // keeps the readings current
  watch.check();
  let gone = 0;
  t.after(watch.watch({ localAddress: "10.99.0.2" }, () => gone++));
  addresses.now = ["10.99.0.3"];
  watch.check();
  watch.check();
  assert.equal(gone, 1, "seen in the reading before it was watched");
});

test("stopping one watch of a socket leaves a later watch of the same socket in place", (t) => {
  const addresses = { now: ["10.99.0.2"] };
  const watch = watchOver(addresses);
  const socket = { localAddress: "10.99.0.2" };
  const stopDialer = watch.watch(socket, () => assert.fail("the dialer's watch was replaced"));
  let gone = 0;
  t.after(watch.watch(socket, () => gone++));
  stopDialer();
  assert.equal(watch.size, 1);
  watch.check();
  addresses.now = [];
  watch.check();
  watch.check();
  assert.equal(gone, 1);
});

test("an address never seen on any interface is never judged gone (interfaces that cannot be listed)", (t) => {
  const addresses: { now: string[] | Error } = { now: ["127.0.0.1"] };
  const watch = watchOver(addresses);
  let gone = 0;
  t.after(watch.watch({ localAddress: "10.99.0.2" }, () => gone++));
  watch.check();
  addresses.now = [];
  watch.check();
  addresses.now = new Error("getifaddrs failed");
  watch.check();
  assert.equal(gone, 0);
});

test("a socket not yet connected, or no longer watched, is not reported", () => {
  const addresses = { now: ["10.99.0.2"] };
  const watch = watchOver(addresses);
  const pending: { localAddress?: string } = {};
  const connected = { localAddress: "10.99.0.2" };
  let gone = 0;
  const stopPending = watch.watch(pending, () => gone++);
  const stopConnected = watch.watch(connected, () => gone++);
  watch.check();
  stopConnected();
  addresses.now = ["10.99.0.3"];
  watch.check();
  assert.equal(gone, 0);
  stopPending();
});

test("addresses are compared as interfaces spell them: IPv4-mapped, scoped and upper-case IPv6", (t) => {
  assert.equal(canonicalAddress("::ffff:10.0.0.2"), "10.0.0.2");
  assert.equal(canonicalAddress("fe80::1%eth0"), "fe80::1");
  assert.equal(canonicalAddress("2001:DB8::1"), "2001:db8::1");
  const addresses = { now: ["10.0.0.2", "fe80::1"] };
  const watch = watchOver(addresses);
  let gone = 0;
  t.after(watch.watch({ localAddress: "::ffff:10.0.0.2" }, () => gone++));
  t.after(watch.watch({ localAddress: "fe80::1%eth0" }, () => gone++));
  watch.check();
  addresses.now = ["10.0.0.2", "fe80::1", "10.0.0.9"];
  watch.check();
  assert.equal(gone, 0, "both found under their other spelling");
  addresses.now = ["10.0.0.9"];
  watch.check();
  watch.check();
  assert.equal(gone, 2);
});
