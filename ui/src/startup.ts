import type { StartupMark } from "./bindings/StartupMark";

/** The moments of this run's start-up, in ms since the page began to load, until the first screen shows. */
const marks: StartupMark[] = [];
let open = true;

/** Notes that the start-up reached `name` now (once per name; nothing after the first screen showed). */
export function startupMark(name: string) {
  if (!open || marks.length >= 24 || marks.some((m) => m.name === name)) return;
  const now = typeof performance === "undefined" ? 0 : performance.now();
  marks.push({ name, at_ms: Math.round(now) });
}

/**
 * The start-up's marks, with the page's own load milestones first, for the first screen that showed; empty
 * afterwards. The shell writes them to the log next to its own, so a slow start shows where it went.
 */
export function takeStartupMarks(): StartupMark[] {
  if (!open) return [];
  open = false;
  const nav =
    typeof performance !== "undefined" && typeof performance.getEntriesByType === "function"
      ? (performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming | undefined)
      : undefined;
  const page: StartupMark[] = nav
    ? [
        { name: "html", at_ms: Math.round(nav.responseEnd) },
        { name: "dom-ready", at_ms: Math.round(nav.domContentLoadedEventEnd) },
      ].filter((m) => m.at_ms > 0)
    : [];
  return [...page, ...marks].sort((a, b) => a.at_ms - b.at_ms);
}
