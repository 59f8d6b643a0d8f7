// Display formatting: phone numbers as Indians write them, labels for enums, relative times.

import type { LeadPriority } from "./bindings/LeadPriority";
import type { LeadSource } from "./bindings/LeadSource";
import type { LeadStatus } from "./bindings/LeadStatus";
import { type Key, type Language, localeOf, translate } from "./i18n";

// Two-digit STD codes of the metros; every other Indian landline code has three or four digits.
const METRO_STD = new Set(["11", "20", "22", "33", "40", "44", "79", "80"]);

/**
 * Formats an E.164 number for display. Indian mobiles read `+91 98765 43210`, metro landlines
 * `+91 80 2345 6789`, other landlines `+91 484 234 5678`. Anything else is shown as stored.
 */
export function formatPhone(e164: string): string {
  const trimmed = e164.trim();
  const m = /^\+91(\d{10})$/.exec(trimmed);
  if (!m || m[1] === undefined) return trimmed;
  const n = m[1];
  const std2 = n.slice(0, 2);
  // Mobiles start with 6–9, but so do Ahmedabad (79) and Bengaluru (80) landlines, whose subscriber
  // numbers start with 2–4 (mobile series there continue with other digits, e.g. 8050…).
  const metroLandline = METRO_STD.has(std2) && (!/^[6-9]/.test(n) || /^[2-4]/.test(n.slice(2)));
  if (metroLandline) return `+91 ${std2} ${n.slice(2, 6)} ${n.slice(6)}`;
  if (/^[6-9]/.test(n)) return `+91 ${n.slice(0, 5)} ${n.slice(5)}`;
  return `+91 ${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}`;
}

const STATUS_KEYS: Record<LeadStatus, Key> = {
  new: "leadStatus.new",
  contacted: "leadStatus.contacted",
  interested: "leadStatus.interested",
  follow_up: "leadStatus.follow_up",
  visit_scheduled: "leadStatus.visit_scheduled",
  converted: "leadStatus.converted",
  not_interested: "leadStatus.not_interested",
  invalid: "leadStatus.invalid",
  do_not_call: "leadStatus.do_not_call",
};

const PRIORITY_KEYS: Record<LeadPriority, Key> = {
  low: "priority.low",
  normal: "priority.normal",
  high: "priority.high",
  hot: "priority.hot",
};

const SOURCE_KEYS: Record<LeadSource, Key> = {
  walk_in: "source.walk_in",
  website: "source.website",
  instagram: "source.instagram",
  facebook: "source.facebook",
  google_sheet: "source.google_sheet",
  referral: "source.referral",
  other: "source.other",
};

/** `keys` with every key's string in `lang`. */
function labels<T extends string>(keys: Record<T, Key>, lang: Language): Record<T, string> {
  return Object.fromEntries(Object.entries(keys).map(([k, key]) => [k, translate(lang, key as Key)])) as Record<
    T,
    string
  >;
}

/** A lead status's label in `lang` ("Interested", "इच्छुक"). */
export function statusLabel(status: LeadStatus, lang: Language = "en"): string {
  return translate(lang, STATUS_KEYS[status]);
}

/** A priority's label in `lang`. */
export function priorityLabel(priority: LeadPriority, lang: Language = "en"): string {
  return translate(lang, PRIORITY_KEYS[priority]);
}

/** A lead source's label in `lang`. */
export function sourceLabel(source: LeadSource, lang: Language = "en"): string {
  return translate(lang, SOURCE_KEYS[source]);
}

/** The English labels (kept for callers that do not pass a language; prefer `statusLabel` etc.). */
export const STATUS_LABELS: Record<LeadStatus, string> = labels(STATUS_KEYS, "en");

/** Every status, in pipeline order (the keys of STATUS_KEYS, which the compiler keeps complete). */
export const LEAD_STATUSES = Object.keys(STATUS_KEYS) as LeadStatus[];

export const PRIORITY_LABELS: Record<LeadPriority, string> = labels(PRIORITY_KEYS, "en");

export const SOURCE_LABELS: Record<LeadSource, string> = labels(SOURCE_KEYS, "en");

/**
 * `3 min ago`, `2 h ago`, `yesterday`, `5 days ago`, then a date (`12 Mar 2026`). In Hindi the same steps
 * come from `Intl.RelativeTimeFormat` (`3 मिनट पहले`, `कल`, and `5 मिनट में` for a time ahead) and the date
 * from the `hi-IN` locale (`12 मार्च 2026`).
 */
export function formatRelative(iso: string, now: Date = new Date(), lang: Language = "en"): string {
  const then = new Date(iso);
  const ms = now.getTime() - then.getTime();
  if (Number.isNaN(ms)) return "—";
  if (lang !== "en") return formatRelativeIntl(then, ms, lang);
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  if (days === 1) return "yesterday";
  if (days < 7) return `${days} days ago`;
  return then.toLocaleDateString("en-IN", { day: "numeric", month: "short", year: "numeric" });
}

/** The same steps as the English, in `lang`'s words, for times past and ahead. */
function formatRelativeIntl(then: Date, ms: number, lang: Language): string {
  const ago = ms >= 0;
  const minutes = Math.floor(Math.abs(ms) / 60_000);
  if (minutes < 1) return translate(lang, "time.justNow");
  const rtf = new Intl.RelativeTimeFormat(localeOf(lang), { numeric: "auto" });
  const sign = ago ? -1 : 1;
  if (minutes < 60) return rtf.format(sign * minutes, "minute");
  const hours = Math.round(minutes / 60);
  if (hours < 24) return rtf.format(sign * hours, "hour");
  const days = Math.round(hours / 24);
  if (days < 7) return rtf.format(sign * days, "day");
  return new Intl.DateTimeFormat(localeOf(lang), { day: "numeric", month: "short", year: "numeric" }).format(then);
}

/** `1,234` in the Indian grouping (`1,23,456` for lakhs). */
export function formatCount(n: number): string {
  return n.toLocaleString("en-IN");
}

/** ₹ amounts in Indian grouping: `₹1,50,000`. */
export function formatInr(n: number): string {
  return `₹${n.toLocaleString("en-IN")}`;
}

/** A time of day as the user's clock shows it: `3:05 pm`. */
export function formatClock(iso: string, lang: Language = "en"): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  return d.toLocaleTimeString(localeOf(lang), { hour: "numeric", minute: "2-digit" });
}
