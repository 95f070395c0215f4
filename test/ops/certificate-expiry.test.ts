import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import {
  CertificateExpiryWatch,
  expiryNotice,
  type PresentedCertificate,
} from "../../src/ops/certificate-expiry.js";
import { EventLog } from "../../src/ops/log.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const VALID_TO = new Date("2027-03-01T12:00:00Z");

function certificate(validTo = VALID_TO): PresentedCertificate {
  return { certPath: "/etc/lifeline/server.crt", fingerprint: "sha256:test", validTo };
}

const at = (msBeforeExpiry: number): Date => new Date(VALID_TO.getTime() - msBeforeExpiry);

test("no notice while 14 days or more are left; a warning below that, an error once expired", () => {
  assert.equal(expiryNotice(certificate(), at(30 * DAY)), undefined);
  assert.equal(expiryNotice(certificate(), at(14 * DAY)), undefined);

  const soon = expiryNotice(certificate(), at(14 * DAY - HOUR));
  assert.equal(soon?.event, "certificate.expiring");
  assert.equal(soon.fields.daysLeft, 13);
  assert.equal(
    soon.msg,
    "certificate /etc/lifeline/server.crt expires in 13 days, on 2027-03-01; renew it, then reload (SIGHUP)",
  );
  assert.deepEqual(
    { ...soon.fields, daysLeft: undefined },
    {
      path: "/etc/lifeline/server.crt",
      fingerprint: "sha256:test",
      validTo: "2027-03-01T12:00:00.000Z",
      daysLeft: undefined,
    },
  );
  assert.match(expiryNotice(certificate(), at(DAY + HOUR))?.msg ?? "", /expires in 1 day,/);
  assert.match(expiryNotice(certificate(), at(5 * HOUR))?.msg ?? "", /expires in less than a day,/);

  const expired = expiryNotice(certificate(), at(-HOUR));
  assert.equal(expired?.event, "certificate.expired");
  assert.equal(expired.fields.daysLeft, -1);
  assert.match(expired.msg, /EXPIRED on 2027-03-01: clients using --ca refuse it/);
  assert.equal(
    expiryNotice(certificate(), at(0))?.event,
    "certificate.expired",
    "expired at its last second",
  );
});

test("the watch logs at once when given a certificate, then once a day, and follows a reload", (t) => {
  t.mock.timers.enable({ apis: ["setInterval"] });
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  let now = at(15 * DAY);
  const watch = new CertificateExpiryWatch(new EventLog("serve", "info", sink), () => now);
  t.after(() => watch.stop());
  assert.equal(watch.expiresAt(), undefined);

  watch.watch(certificate());
  assert.equal(watch.expiresAt(), VALID_TO.getTime() / 1000);
  assert.equal(lines.length, 0, "15 days left: nothing to say");

  now = at(14 * DAY - HOUR);
  t.mock.timers.tick(DAY);
  assert.deepEqual(
    lines.map((l) => [l.event, l.level, l.daysLeft]),
    [["certificate.expiring", 40, 13]],
  );
  now = at(13 * DAY - HOUR);
  t.mock.timers.tick(DAY);
  assert.deepEqual(
    lines.map((l) => l.daysLeft),
    [13, 12],
    "again the next day",
  );

  // A reload to a certificate that has already expired: said at once, as an error.
  const lapsed = new Date(now.getTime() - DAY);
  watch.watch(certificate(lapsed));
  assert.equal(watch.expiresAt(), lapsed.getTime() / 1000);
  assert.deepEqual(lines.at(-1)?.event, "certificate.expired");
  assert.equal(lines.at(-1)?.level, 50);

  // Renewed: nothing more, ever.
  watch.watch(certificate(new Date(now.getTime() + 365 * DAY)));
  const said = lines.length;
  t.mock.timers.tick(DAY);
  assert.equal(lines.length, said);
});
