/** The keyboard shortcuts, as the cheat sheet (press ?) lists them. Each is handled where it acts. */
export const SHORTCUTS: ReadonlyArray<{ keys: string; what: string }> = [
  { keys: "N", what: "Call the next lead (Today screen)" },
  { keys: "/", what: "Search your leads" },
  { keys: "Ctrl+Enter", what: "Answer the incoming call" },
  { keys: "Ctrl+D", what: "Decline the incoming call" },
  { keys: "Ctrl+H", what: "Hang up, or cancel a call that is ringing" },
  { keys: "Ctrl+M", what: "Mute or unmute" },
  { keys: "1 – 9", what: "Pick the disposition (call log form)" },
  { keys: "?", what: "Show these shortcuts" },
];

/** Whether a key press goes to a text field (where letters and digits are text, not shortcuts). */
export function isTyping(e: KeyboardEvent): boolean {
  const target = e.target as HTMLElement | null;
  return !!target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}
