// The wrap-up form's pure parts: follow-up quick picks, the datetime-local round trip, the talk time.

import { type Key, type Language, translate } from "./i18n";

/** A `<input type="datetime-local">` value (local time, minutes) for `d`. */
export function toLocalInput(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The instant a datetime-local value means (local time); `null` for an empty or broken value. */
export function fromLocalInput(v: string): Date | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(v)) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

export interface QuickPick {
  /** The English label (`quickPickLabel` gives it in another language). */
  label: string;
  key: Key;
  at: (now: Date) => Date;
}

/** The follow-up times telecallers pick most: in an hour, tomorrow at 11, a week on at 11. */
export const QUICK_PICKS: QuickPick[] = [
  {
    label: "In 1 hour",
    key: "pick.hour",
    at: (now) => {
      const d = new Date(now.getTime() + 60 * 60_000);
      d.setSeconds(0, 0);
      return d;
    },
  },
  {
    label: "Tomorrow 11 am",
    key: "pick.tomorrow",
    at: (now) => {
      const d = new Date(now);
      d.setDate(d.getDate() + 1);
      d.setHours(11, 0, 0, 0);
      return d;
    },
  },
  {
    label: "Next week",
    key: "pick.week",
    at: (now) => {
      const d = new Date(now);
      d.setDate(d.getDate() + 7);
      d.setHours(11, 0, 0, 0);
      return d;
    },
  },
];

/** A quick pick's label in `lang`. */
export function quickPickLabel(pick: QuickPick, lang: Language = "en"): string {
  return translate(lang, pick.key);
}

/** `1 min 05 s`, `42 s` (`1 मिनट 05 सेकंड` in Hindi). */
export function formatTalk(seconds: number, lang: Language = "en"): string {
  if (seconds < 60) return translate(lang, "talk.seconds", { s: seconds });
  const m = Math.floor(seconds / 60);
  const s = String(seconds % 60).padStart(2, "0");
  return translate(lang, "talk.minutes", { m, s });
}

/** Outcome tags telecallers at a jewellery showroom use most; any other can be typed. */
export const COMMON_TAGS: readonly string[] = [
  "wedding",
  "price concern",
  "gold rate",
  "making charges",
  "send catalogue on WhatsApp",
  "family to decide",
  "old gold exchange",
  "EMI",
];

const TAG_KEYS: Record<string, Key> = {
  wedding: "tag.wedding",
  "price concern": "tag.priceConcern",
  "gold rate": "tag.goldRate",
  "making charges": "tag.makingCharges",
  "send catalogue on WhatsApp": "tag.catalogue",
  "family to decide": "tag.family",
  "old gold exchange": "tag.oldGold",
  EMI: "tag.emi",
};

/**
 * How a tag reads in `lang`. The common tags are saved in English whatever the language (so the supervisor's
 * reports count them together) and shown translated; a tag the telecaller typed is shown as typed.
 */
export function tagLabel(tag: string, lang: Language = "en"): string {
  const key = Object.prototype.hasOwnProperty.call(TAG_KEYS, tag) ? TAG_KEYS[tag] : undefined;
  return key ? translate(lang, key) : tag;
}

/** `tags` with `tag` added (trimmed, once, case-insensitive) or removed when it is there. */
export function toggleTag(tags: readonly string[], tag: string): string[] {
  const t = tag.trim();
  if (!t) return [...tags];
  const has = tags.some((x) => x.toLowerCase() === t.toLowerCase());
  return has ? tags.filter((x) => x.toLowerCase() !== t.toLowerCase()) : [...tags, t];
}
