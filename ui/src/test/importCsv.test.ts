// importCsv sends the file raw: one line of JSON with the other arguments, "\n", then the bytes
// (CsvImportArgs::from_ipc_body in src-tauri/src/team.rs takes them apart).
import { describe, expect, it } from "vitest";

import type { ImportOutcome } from "../bindings/ImportOutcome";
import { makeApi, type InvokeFn, type ListenFn } from "../ipc";

const noListen: ListenFn = async () => () => {};

const outcome: ImportOutcome = {
  created: 1,
  merged: 0,
  duplicates: 0,
  report: {
    rows: 1,
    valid: 1,
    invalid: 0,
    duplicates: 0,
    merged: 0,
    leads: 1,
    blank_rows: 0,
    ignored_columns: [],
    issues: [],
    issues_total: 0,
    issues_truncated: false,
  },
};

/** The command and body importCsv gave the shell. */
function recorder() {
  const calls: Array<[string, unknown]> = [];
  const invoke: InvokeFn = async (cmd, args) => {
    calls.push([cmd, args]);
    return outcome;
  };
  return { calls, api: makeApi(invoke, noListen) };
}

/** The one call made: its command and body. */
function only(calls: Array<[string, unknown]>): [string, unknown] {
  expect(calls).toHaveLength(1);
  return calls[0] ?? ["", null];
}

/** Splits a body as the shell does: the arguments line, and the file. */
function split(body: unknown): { head: unknown; file: number[] } {
  expect(ArrayBuffer.isView(body)).toBe(true);
  const bytes = Array.from(body as Uint8Array);
  const newline = bytes.indexOf(0x0a);
  expect(newline).toBeGreaterThan(0);
  const head = JSON.parse(new TextDecoder().decode(new Uint8Array(bytes.slice(0, newline))));
  return { head, file: bytes.slice(newline + 1) };
}

describe("importCsv", () => {
  const csv = new TextEncoder().encode("Name,Phone\nअनीता,98765 44444\n");

  it("sends a Uint8Array file raw, after its arguments", async () => {
    const { calls, api } = recorder();
    const answer = await api.importCsv({
      file_name: "वॉक-इन.csv",
      bytes: csv,
      merge_duplicates: true,
      assign_to: "priya",
    });
    expect(answer).toBe(outcome);
    const [cmd, body] = only(calls);
    expect(cmd).toBe("import_csv");
    const { head, file } = split(body);
    expect(head).toEqual({ file_name: "वॉक-इन.csv", merge_duplicates: true, assign_to: "priya" });
    expect(file).toEqual(Array.from(csv));
  });

  it("takes the plain array of numbers the import screen builds, and leaves out an absent assignee", async () => {
    const { calls, api } = recorder();
    await api.importCsv({ file_name: "a.csv", bytes: Array.from(csv), merge_duplicates: false });
    const { head, file } = split(only(calls)[1]);
    expect(head).toEqual({ file_name: "a.csv", merge_duplicates: false });
    expect(file).toEqual(Array.from(csv));
  });

  it("keeps the file's own newlines and any byte in the file", async () => {
    const { calls, api } = recorder();
    const bytes = [0x0a, 0x0d, 0x0a, 0xff, 0x00, 0x7b];
    await api.importCsv({ file_name: "odd.csv", bytes, merge_duplicates: false });
    expect(split(only(calls)[1]).file).toEqual(bytes);
  });

  it("rejects with the shell's code, e.g. the size limit", async () => {
    const api = makeApi(async () => {
      throw { code: "invalid_input", message: "The file is larger than 20 MB; split it into smaller files." };
    }, noListen);
    await expect(
      api.importCsv({ file_name: "big.csv", bytes: new Uint8Array(3), merge_duplicates: false }),
    ).rejects.toMatchObject({ name: "IpcError", code: "invalid_input" });
  });
});
