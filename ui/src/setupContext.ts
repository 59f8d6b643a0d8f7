import { createContext } from "react";

/** Opens the first-run setup again (the preferences offer it); `null` where the shell has no setup. */
export const SetupContext = createContext<(() => void) | null>(null);
