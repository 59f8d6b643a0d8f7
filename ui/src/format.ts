// Display formatting: phone numbers as Indians write them, labels for enums, relative times.

import type { LeadPriority } from "./bindings/LeadPriority";
import type { LeadSource } from "./bindings/LeadSource";
import type { LeadStatus } from "./bindings/LeadStatus";

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

export const STATUS_LABELS: Record<LeadStatus, string> = {
  new: "New",
  contacted: "Contacted",
  interested: "Interested",
  follow_up: "Follow-up",
  visit_scheduled: "Visit scheduled",
  converted: "Converted",
  not_interested: "Not interested",
  invalid: "Invalid",
  do_not_call: "Do not call",
};

/** Every status, in pipeline order (the keys of STATUS_LABELS, which the compiler keeps complete). */
export const LEAD_STATUSES = Object.keys(STATUS_LABELS) as LeadStatus[];

export const PRIORITY_LABELS: Record<LeadPriority, string> = {
  low: "Low",
  normal: "Normal",
  high: "High",
  hot: "Hot",
};

export const SOURCE_LABELS: Record<LeadSource, string> = {
  walk_in: "Walk-in",
  website: "Website",
  instagram: "Instagram",
  facebook: "Facebook",
  google_sheet: "Google Sheet",
  referral: "Referral",
  other: "Other",
};

/** `3 min ago`, `2 h ago`, `yesterday`, `5 days ago`, then a date (`12 Mar 2026`). */
export function formatRelative(iso: string, now: Date = new Date()): string {
  const then = new Date(iso);
  const ms = now.getTime() - then.getTime();
  if (Number.isNaN(ms)) return "—";
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

/** `1,234` in the Indian grouping (`1,23,456` for lakhs). */
export function formatCount(n: number): string {
  return n.toLocaleString("en-IN");
}

/** ₹ amounts in Indian grouping: `₹1,50,000`. */
export function formatInr(n: number): string {
  return `₹${n.toLocaleString("en-IN")}`;
}

/** A time of day as the user's clock shows it: `3:05 pm`. */
export function formatClock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  return d.toLocaleTimeString("en-IN", { hour: "numeric", minute: "2-digit" });
}
