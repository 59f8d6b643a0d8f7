import type { CommandError } from "./bindings/CommandError";
import { IpcError, toIpcError } from "./ipc";

export interface ErrorText {
  title: string;
  detail: string;
}

/** What to tell people about a failure: a short title by kind, and the shell's own sentence. */
export function describeError(err: unknown): ErrorText {
  const e = err instanceof IpcError ? err : toIpcError(err);
  switch (e.code) {
    case "invalid_credentials":
      return { title: "Wrong username or password", detail: "Check both and try again." };
    case "network":
      return { title: "Can't reach the server", detail: e.message };
    case "session_expired":
      return { title: "Your session has ended", detail: "Sign in again to keep syncing." };
    case "not_signed_in":
      return { title: "Not signed in", detail: "Sign in to sync your leads." };
    case "invalid_input":
      return { title: "Check the form", detail: e.message };
    case "server":
      return { title: "The server reported a problem", detail: e.message };
    case "storage":
      return { title: "The local database failed", detail: e.message };
    case "phone":
      return { title: "The phone could not do that", detail: e.message };
    case "ipc_unavailable":
      return { title: "Leadline's desktop shell is not running", detail: "Open Leadline from its app icon." };
    default:
      return { title: "Something went wrong", detail: e.message };
  }
}

/** The same, for an error the shell reported inside an AppStatus. */
export function describeCommandError(err: CommandError): ErrorText {
  return describeError(new IpcError(err.code, err.message));
}
