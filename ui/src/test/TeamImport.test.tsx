import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import { TeamImport, spreadsheetId } from "../components/TeamImport";
import { IpcError } from "../ipc";
import { fakeTeam, importOutcome } from "./fixtures";

afterEach(cleanup);

function pickFile(text: string, name = "march.csv") {
  const file = new File([text], name, { type: "text/csv" });
  fireEvent.change(screen.getByTestId("import-file"), { target: { files: [file] } });
}

describe("TeamImport", () => {
  it("sends the CSV file's bytes and shows the row-by-row report as a table", async () => {
    const team = fakeTeam();
    render(<TeamImport api={team.api} />);
    expect((screen.getByTestId("import-submit") as HTMLButtonElement).disabled).toBe(true);
    pickFile("Name,Phone\nAsha,98765 11111\n");
    await waitFor(() => expect(screen.getByRole("option", { name: "Arjun Nair" })).toBeTruthy());
    fireEvent.change(screen.getByRole("combobox", { name: /Assign rows/ }), { target: { value: "arjun" } });
    fireEvent.click(screen.getByRole("checkbox", { name: /Merge rows/ }));
    fireEvent.click(screen.getByTestId("import-submit"));
    const report = await screen.findByTestId("import-report");
    expect(team.calls).toContainEqual([
      "importCsv",
      { file_name: "march.csv", bytes: 28, merge_duplicates: true, assign_to: "arjun" },
    ]);
    expect(within(report).getByTestId("import-summary").textContent).toBe(
      "Rows read: 4. New leads: 1; merged into existing leads: 0; rows with errors: 2.",
    );
    expect(report.textContent).toContain("Columns not used: Colour.");
    const rows = within(report).getAllByTestId("import-issue");
    expect(rows.map((r) => [...r.querySelectorAll("th,td")].map((c) => c.textContent))).toEqual([
      ["3", "Not imported", "Phone", "—", "phone is required"],
      ["4", "Not imported", "Phone", "12345", "not a phone number"],
      ["5", "Duplicate", "—", "—", "same phone as row 2 (row 2)"],
    ]);
    expect(within(report).getByText("Rows that need attention: 3")).toBeTruthy();
  });

  it("a clean import says every row went in", async () => {
    const clean = importOutcome();
    clean.report = { ...clean.report, issues: [], issues_total: 0, invalid: 0, ignored_columns: [] };
    const team = fakeTeam([], { importCsv: async () => clean });
    render(<TeamImport api={team.api} />);
    pickFile("Name,Phone\n");
    fireEvent.click(screen.getByTestId("import-submit"));
    expect((await screen.findByTestId("import-clean")).textContent).toBe("Every row was imported.");
  });

  it("imports a Google Sheet from its address", async () => {
    const team = fakeTeam();
    render(<TeamImport api={team.api} />);
    fireEvent.click(screen.getByTestId("import-sheet"));
    fireEvent.change(screen.getByTestId("import-sheet-id"), {
      target: { value: "https://docs.google.com/spreadsheets/d/1AbC_dEf-123/edit#gid=0" },
    });
    fireEvent.change(screen.getByTestId("import-range"), { target: { value: "Leads!A1:L" } });
    fireEvent.click(screen.getByTestId("import-submit"));
    await screen.findByTestId("import-report");
    expect(team.calls).toContainEqual([
      "importSheet",
      { spreadsheet_id: "1AbC_dEf-123", range: "Leads!A1:L", merge_duplicates: false, assign_to: undefined },
    ]);
  });

  it("shows the server's refusal, e.g. a sheet it may not read", async () => {
    const team = fakeTeam([], {
      importSheet: async () => {
        throw new IpcError("invalid_input", "The caller does not have permission");
      },
    });
    render(<TeamImport api={team.api} />);
    fireEvent.click(screen.getByTestId("import-sheet"));
    fireEvent.change(screen.getByTestId("import-sheet-id"), { target: { value: "sheet-1" } });
    fireEvent.click(screen.getByTestId("import-submit"));
    const error = await screen.findByTestId("import-error");
    expect(error.textContent).toContain("The caller does not have permission");
    expect(screen.queryByTestId("import-report")).toBeNull();
  });

  it("offline, the import says it cannot reach the server", async () => {
    const team = fakeTeam([], {
      importCsv: async () => {
        throw new IpcError("network", "Leadline could not connect to the server.");
      },
    });
    render(<TeamImport api={team.api} />);
    pickFile("Name,Phone\n");
    fireEvent.click(screen.getByTestId("import-submit"));
    expect((await screen.findByTestId("import-error")).textContent).toContain("could not connect");
  });

  it("finds the id in a sheet's address", () => {
    expect(spreadsheetId("https://docs.google.com/spreadsheets/d/abc-DEF_1/edit")).toBe("abc-DEF_1");
    expect(spreadsheetId("  plain-id ")).toBe("plain-id");
  });
});
