// Every failure the UI can be told of reads in Hindi in the Hindi UI: a Hindi title, and a Hindi detail that
// says what to do. The shell writes its sentences in English; the ones it always sends the same way (read
// here from src-tauri/src) each have their Hindi, and anything else (a server's free-text refusal) comes
// after a Hindi sentence saying what to do.
// @ts-expect-error -- the UI's tsconfig has no Node types; the tests run on Node, which has fs.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

import { describeCommandError, describeError, hindiSentence } from "../errors";
import { translate } from "../i18n";
import { IpcError, type IpcErrorCode } from "../ipc";

/** Every code: the shell's (ErrorCode) and the two the UI adds. tsc fails here when a code is added. */
const CODES: Record<IpcErrorCode, true> = {
  invalid_input: true,
  invalid_credentials: true,
  session_expired: true,
  not_signed_in: true,
  network: true,
  server: true,
  storage: true,
  phone: true,
  internal: true,
  ipc_unavailable: true,
  unknown: true,
};
const ALL = Object.keys(CODES) as IpcErrorCode[];

const DEVANAGARI = /[\u0900-\u097F]/;
/** A polite Hindi imperative (करें, जाँचें, बताएँ, …): the text says what to do. */
const SAYS_WHAT_TO_DO = /[\u0900-\u097F]+(ें|एँ)(?=[\s।;,:)]|$)/;

/** Latin words in `text` besides those that stay as they are in Hindi too. */
function englishWords(text: string): string[] {
  const kept = new Set(["Leadline", "MB", "SIP", "Leads", "A1", "L", "name", "example", "com", "e", "g"]);
  return (text.match(/[A-Za-z]+\d*/g) ?? []).filter((w) => !kept.has(w));
}

describe("describeError in Hindi", () => {
  it.each(ALL)("%s has a Hindi title and a Hindi detail that says what to do", (code) => {
    const shown = describeError(new IpcError(code, "Something odd happened on the server."), "hi");
    const english = describeError(new IpcError(code, "Something odd happened on the server."), "en");
    expect(shown.title).toMatch(DEVANAGARI);
    expect(shown.title).not.toBe(english.title);
    expect(englishWords(shown.title)).toEqual([]);
    expect(shown.detail).toMatch(DEVANAGARI);
    expect(shown.detail).toMatch(SAYS_WHAT_TO_DO);
    // The Hindi comes first: the English sentence, when kept, only follows it.
    expect(shown.detail.trimStart()).toMatch(/^(Leadline )?[\u0900-\u097F]/);
  });

  it("keeps a server's free-text refusal, after the Hindi of what to do", () => {
    const refusal = "phone: +91 12345 is not a valid phone number";
    const shown = describeError(new IpcError("invalid_input", refusal), "hi");
    expect(shown.title).toBe(translate("hi", "err.invalidInput"));
    expect(shown.detail.startsWith("नीचे लिखी बात ठीक करके फिर कोशिश करें।")).toBe(true);
    expect(shown.detail.endsWith(refusal)).toBe(true);
    const server = describeError(new IpcError("server", "Google Sheets import is not configured on this server"), "hi");
    expect(server.detail).toMatch(/^थोड़ी देर बाद फिर कोशिश करें/);
    expect(server.detail).toContain("Google Sheets import is not configured");
  });

  it("says the shell's known sentences wholly in Hindi", () => {
    const big = describeError(
      new IpcError("invalid_input", "The file is larger than 20 MB; split it into smaller files."),
      "hi",
    );
    expect(big).toEqual({ title: "फ़ॉर्म जाँचें", detail: "फ़ाइल 20 MB से बड़ी है; इसे छोटी फ़ाइलों में बाँटें।" });
    const offline = describeCommandError(
      {
        code: "network",
        message:
          "Leadline could not connect to the server. Your work is saved on this computer and is sent when the connection is back.",
      },
      "hi",
    );
    expect(offline.detail).toMatch(/^Leadline सर्वर से नहीं जुड़ पाया।/);
    expect(englishWords(offline.detail)).toEqual([]);
  });

  it("fills the varying part of a known sentence", () => {
    expect(hindiSentence("“asha@” is not an email address (name@example.com).")).toBe(
      "“asha@” ईमेल पता नहीं है; name@example.com जैसा पता लिखें।",
    );
    expect(hindiSentence("The file /home/p/Downloads/leads.csv could not be written: No space left on device")).toBe(
      "फ़ाइल /home/p/Downloads/leads.csv नहीं लिखी जा सकी (No space left on device)। डिस्क में जगह और फ़ोल्डर की अनुमति जाँचें, फिर दोबारा कोशिश करें।",
    );
    expect(hindiSentence("Something nobody wrote")).toBeUndefined();
  });

  it("shows text the UI wrote in Hindi itself as it is", () => {
    const own = translate("hi", "team.badRange");
    expect(describeError(new IpcError("invalid_input", own), "hi").detail).toBe(own);
  });

  it("leaves the English UI as it was: the shell's sentence, or the fixed one", () => {
    expect(describeError(new IpcError("server", "The server refused."), "en")).toEqual({
      title: "The server reported a problem",
      detail: "The server refused.",
    });
    expect(describeError(new IpcError("session_expired", "whatever"), "en")).toEqual({
      title: "Your session has ended",
      detail: "Sign in again to keep syncing.",
    });
    expect(describeError(new IpcError("internal", "join error"), "en")).toEqual({
      title: "Something went wrong",
      detail: "join error",
    });
  });
});

/** The shell's sources (src-tauri/src/*.rs), to find every sentence it sends the same way each time. */
// A path, not a URL (jsdom's URL is not the one Node's fs takes); under vitest this file's URL is the
// dev server's `/@fs/<absolute path>`.
const THIS_FILE = decodeURIComponent(new URL(import.meta.url).pathname).replace(/^\/@fs(?=\/)/, "");
const SHELL_DIR = THIS_FILE.replace(/ui\/src\/test\/[^/]+$/, "src-tauri/src/");
const SHELL_SOURCES: Record<string, string> = Object.fromEntries(
  (readdirSync(SHELL_DIR) as string[])
    .filter((name) => name.endsWith(".rs"))
    .map((name) => [name, readFileSync(SHELL_DIR + name, "utf8") as string]),
);

/** `CommandError::new(ErrorCode::X, "a fixed sentence")` in the shell: [code, sentence]. */
function fixedShellSentences(): Array<[string, string]> {
  const call = /CommandError::new\(\s*(?:crate::api::)?ErrorCode::(\w+),\s*"((?:[^"\\]|\\.)*)"/g;
  const out: Array<[string, string]> = [];
  for (const source of Object.values(SHELL_SOURCES)) {
    for (const m of source.matchAll(call)) {
      // A Rust string's `\` line continuation drops the line break and the next line's indentation.
      out.push([m[1] ?? "", (m[2] ?? "").replace(/\\\n\s*/g, "").replace(/\\"/g, '"')]);
    }
  }
  return out;
}

describe("the shell's fixed sentences", () => {
  it("are found in the shell's sources", () => {
    expect(Object.keys(SHELL_SOURCES).length).toBeGreaterThan(5);
    expect(fixedShellSentences().length).toBeGreaterThan(20);
  });

  it("each have their Hindi (add a missing one to HINDI_SENTENCES in src/errors.ts)", () => {
    const missing = fixedShellSentences()
      .map(([, sentence]) => sentence)
      .filter((sentence) => hindiSentence(sentence) === undefined);
    expect(missing).toEqual([]);
  });

  it("each read in Hindi, with no English left but names", () => {
    for (const [code, sentence] of fixedShellSentences()) {
      const shown = describeError(new IpcError(toCode(code), sentence), "hi");
      expect(shown.detail, sentence).toMatch(DEVANAGARI);
      expect(englishWords(shown.detail), sentence).toEqual([]);
    }
  });
});

/** The wire name of a Rust `ErrorCode` variant (`InvalidInput` → `invalid_input`). */
function toCode(variant: string): IpcErrorCode {
  const code = variant.replace(/[A-Z]/g, (c, i: number) => (i === 0 ? "" : "_") + c.toLowerCase());
  if (!(code in CODES)) throw new Error(`unknown ErrorCode::${variant}`);
  return code as IpcErrorCode;
}
