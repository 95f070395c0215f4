/**
 * Certificate expiry, as an admin needs to hear of it: `serve` says in its log when the certificate
 * it presents has fewer than EXPIRY_WARNING_DAYS left or has expired (at start, on every reload,
 * and once a day, so a 90-day certificate from an ACME CA cannot lapse unnoticed), and `doctor`
 * judges the certificate a server presents by the same rule.
 */
import type { EventLog } from "./log.js";

/** A certificate that expires sooner than this is a warning. */
const EXPIRY_WARNING_DAYS = 14;
const DAY_MS = 86_400_000;

/** Where a certificate stands at a moment, by the one rule serve and doctor share. */
export interface Expiry {
  state: "valid" | "expiring" | "expired";
  /** Whole days left (negative once it has passed). */
  daysLeft: number;
  /** The last day, YYYY-MM-DD (UTC). */
  date: string;
  /** "in 3 days", "in 1 day", "in less than a day". */
  when: string;
}

export function expiryOf(validTo: Date, now: Date): Expiry {
  const daysLeft = Math.floor((validTo.getTime() - now.getTime()) / DAY_MS);
  const state =
    validTo.getTime() <= now.getTime() ? "expired" : daysLeft < EXPIRY_WARNING_DAYS ? "expiring" : "valid";
  const when = daysLeft < 1 ? "in less than a day" : daysLeft === 1 ? "in 1 day" : `in ${daysLeft} days`;
  return { state, daysLeft, date: validTo.toISOString().slice(0, 10), when };
}

/** The certificate a server presents, as far as its expiry matters. */
export interface PresentedCertificate {
  certPath: string;
  fingerprint: string;
  validTo: Date;
}

export interface ExpiryNotice {
  event: "certificate.expiring" | "certificate.expired";
  msg: string;
  fields: { path: string; fingerprint: string; validTo: string; daysLeft: number };
}

/** What to tell an admin about `certificate` at `now`: nothing while it has EXPIRY_WARNING_DAYS or more left. */
export function expiryNotice(certificate: PresentedCertificate, now: Date): ExpiryNotice | undefined {
  const { state, daysLeft, date, when } = expiryOf(certificate.validTo, now);
  if (state === "valid") return undefined;
  const fields = {
    path: certificate.certPath,
    fingerprint: certificate.fingerprint,
    validTo: certificate.validTo.toISOString(),
    daysLeft,
  };
  const renew = "renew it, then reload (SIGHUP)";
  return state === "expired"
    ? {
        event: "certificate.expired",
        msg: `certificate ${certificate.certPath} EXPIRED on ${date}: clients using --ca refuse it; ${renew}`,
        fields,
      }
    : {
        event: "certificate.expiring",
        msg: `certificate ${certificate.certPath} expires ${when}, on ${date}; ${renew}`,
        fields,
      };
}

/**
 * Watches the certificate `serve` presents: logs its notice (if any) when it is given one, and
 * again every day while the process runs. The timer never keeps the process alive.
 */
export class CertificateExpiryWatch {
  private current: PresentedCertificate | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly log: EventLog,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.timer = setInterval(() => this.check(), DAY_MS).unref();
  }

  /** The certificate now presented (at start, and after each reload). */
  watch(certificate: PresentedCertificate): void {
    this.current = certificate;
    this.check();
  }

  /** When the presented certificate expires, in Unix seconds (for the metric). */
  expiresAt(): number | undefined {
    return this.current && this.current.validTo.getTime() / 1000;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private check(): void {
    if (!this.current) return;
    const notice = expiryNotice(this.current, this.now());
    if (!notice) return;
    if (notice.event === "certificate.expired") this.log.error(notice.event, notice.msg, notice.fields);
    else this.log.warn(notice.event, notice.msg, notice.fields);
  }
}
