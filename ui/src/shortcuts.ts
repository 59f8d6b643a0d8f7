import type { Key } from "./i18n";

/** The keyboard shortcuts, as the cheat sheet (press ?) lists them. Each is handled where it acts. */
export const SHORTCUTS: ReadonlyArray<{ keys: string; what: Key }> = [
  { keys: "N", what: "keys.next" },
  { keys: "/", what: "keys.search" },
  { keys: "Ctrl+Enter", what: "keys.answer" },
  { keys: "Ctrl+D", what: "keys.decline" },
  { keys: "Ctrl+H", what: "keys.hangUp" },
  { keys: "Ctrl+M", what: "keys.mute" },
  { keys: "1 – 9", what: "keys.disposition" },
  { keys: "?", what: "keys.help" },
];

/** Whether a key press goes to a text field (where letters and digits are text, not shortcuts). */
export function isTyping(e: KeyboardEvent): boolean {
  const target = e.target as HTMLElement | null;
  return !!target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}
