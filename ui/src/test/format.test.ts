import { describe, expect, it } from "vitest";

import { LEAD_STATUSES, formatCount, formatInr, formatPhone, formatRelative } from "../format";

describe("formatPhone", () => {
  it("groups Indian mobiles 5 + 5 after the country code", () => {
    expect(formatPhone("+919876543210")).toBe("+91 98765 43210");
    expect(formatPhone("+916123456789")).toBe("+91 61234 56789");
    expect(formatPhone("+918050123456")).toBe("+91 80501 23456");
    expect(formatPhone("+917012345678")).toBe("+91 70123 45678");
  });

  it("groups metro landlines after their two-digit STD code", () => {
    expect(formatPhone("+918023456789")).toBe("+91 80 2345 6789");
    expect(formatPhone("+912226543210")).toBe("+91 22 2654 3210");
    expect(formatPhone("+917926543210")).toBe("+91 79 2654 3210");
  });

  it("groups other landlines after a three-digit STD code", () => {
    expect(formatPhone("+914842345678")).toBe("+91 484 234 5678");
  });

  it("leaves foreign and odd numbers as stored", () => {
    expect(formatPhone("+442079460958")).toBe("+442079460958");
    expect(formatPhone("+9198765")).toBe("+9198765");
    expect(formatPhone(" +919876543210 ")).toBe("+91 98765 43210");
  });
});

describe("formatRelative", () => {
  const now = new Date("2026-11-25T10:00:00Z");
  it("reads like people talk", () => {
    expect(formatRelative("2026-11-25T09:59:40Z", now)).toBe("just now");
    expect(formatRelative("2026-11-25T09:45:00Z", now)).toBe("15 min ago");
    expect(formatRelative("2026-11-25T07:00:00Z", now)).toBe("3 h ago");
    expect(formatRelative("2026-11-24T08:00:00Z", now)).toBe("yesterday");
    expect(formatRelative("2026-11-21T10:00:00Z", now)).toBe("4 days ago");
    expect(formatRelative("2026-03-12T10:00:00Z", now)).toBe("12 Mar 2026");
    expect(formatRelative("not a date", now)).toBe("—");
  });
});

describe("numbers", () => {
  it("use Indian digit grouping", () => {
    expect(formatCount(123456)).toBe("1,23,456");
    expect(formatInr(150000)).toBe("₹1,50,000");
  });
});

it("lists every lead status once", () => {
  expect(LEAD_STATUSES).toHaveLength(9);
  expect(new Set(LEAD_STATUSES).size).toBe(9);
  expect(LEAD_STATUSES).toContain("do_not_call");
});
