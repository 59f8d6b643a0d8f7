import type { Theme } from "./bindings/Theme";

const DARK_QUERY = "(prefers-color-scheme: dark)";
let followSystem: (() => void) | null = null;

/** Whether `theme` shows dark now ("system" asks the computer). */
export function isDark(theme: Theme): boolean {
  if (theme !== "system") return theme === "dark";
  return typeof window.matchMedia === "function" && window.matchMedia(DARK_QUERY).matches;
}

/** Sets `data-theme` (light or dark) on the root element, which the stylesheet's colours follow; with
 * "system", keeps following the computer's setting as it changes. */
export function applyTheme(theme: Theme) {
  const root = document.documentElement;
  root.dataset.theme = isDark(theme) ? "dark" : "light";
  if (followSystem) {
    if (typeof window.matchMedia === "function") {
      window.matchMedia(DARK_QUERY).removeEventListener("change", followSystem);
    }
    followSystem = null;
  }
  if (theme === "system" && typeof window.matchMedia === "function") {
    followSystem = () => {
      root.dataset.theme = isDark("system") ? "dark" : "light";
    };
    window.matchMedia(DARK_QUERY).addEventListener("change", followSystem);
  }
}
