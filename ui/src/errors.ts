import type { CommandError } from "./bindings/CommandError";
import { type Language, translate } from "./i18n";
import { IpcError, toIpcError } from "./ipc";

export interface ErrorText {
  title: string;
  detail: string;
}

/**
 * What to tell people about a failure, in `lang` (English when not given): a short title by kind, and the
 * shell's own sentence (which the shell writes in English) or a fixed one where the kind says it all.
 */
export function describeError(err: unknown, lang: Language = "en"): ErrorText {
  const e = err instanceof IpcError ? err : toIpcError(err);
  const t = (key: Parameters<typeof translate>[1]) => translate(lang, key);
  switch (e.code) {
    case "invalid_credentials":
      return { title: t("err.invalidCredentials"), detail: t("err.invalidCredentials.detail") };
    case "network":
      return { title: t("err.network"), detail: e.message };
    case "session_expired":
      return { title: t("err.sessionExpired"), detail: t("err.sessionExpired.detail") };
    case "not_signed_in":
      return { title: t("err.notSignedIn"), detail: t("err.notSignedIn.detail") };
    case "invalid_input":
      return { title: t("err.invalidInput"), detail: e.message };
    case "server":
      return { title: t("err.server"), detail: e.message };
    case "storage":
      return { title: t("err.storage"), detail: e.message };
    case "phone":
      return { title: t("err.phone"), detail: e.message };
    case "ipc_unavailable":
      return { title: t("err.ipcUnavailable"), detail: t("err.ipcUnavailable.detail") };
    default:
      return { title: t("err.other"), detail: e.message };
  }
}

/** The same, for an error the shell reported inside an AppStatus. */
export function describeCommandError(err: CommandError, lang: Language = "en"): ErrorText {
  return describeError(new IpcError(err.code, err.message), lang);
}
