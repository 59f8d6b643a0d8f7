import { useEffect, useState } from "react";

import type { ReadyScreen } from "./bindings/ReadyScreen";
import type { Api } from "./ipc";
import { startupMark, takeStartupMarks } from "./startup";

/** `value`, but only after it has stopped changing for `delayMs`. */
export function useDebounced<T>(value: T, delayMs: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), delayMs);
    return () => clearTimeout(timer);
  }, [value, delayMs]);
  return debounced;
}

/** Re-renders every `intervalMs`, so relative times ("3 min ago") stay true. */
export function useNow(intervalMs: number): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const timer = setInterval(() => setNow(new Date()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

/** The screens each API (one per app run) has been told are ready. */
const toldReady = new WeakMap<object, Set<ReadyScreen>>();

/**
 * Tells the shell, once per run and screen, that `screen` first showed its content (`shown`): after the
 * browser has painted it. The start-up time goes to the log; `leadline-bench app` measures it.
 */
export function useReadyMark(api: Pick<Api, "screenReady">, screen: ReadyScreen, shown: boolean) {
  useEffect(() => {
    if (!shown) return;
    const told = toldReady.get(api) ?? new Set<ReadyScreen>();
    toldReady.set(api, told);
    if (told.has(screen)) return;
    told.add(screen);
    startupMark("committed");
    const afterPaint = () =>
      window.setTimeout(() => {
        startupMark("painted");
        api.screenReady(screen, takeStartupMarks()).catch(() => {});
      }, 0);
    if (typeof window.requestAnimationFrame === "function") window.requestAnimationFrame(afterPaint);
    else afterPaint();
  }, [api, screen, shown]);
}
