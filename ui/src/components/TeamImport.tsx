// Lead imports on the server: a CSV file or a Google Sheet (shared with the server's service account),
// merged into existing leads or reported as duplicates, optionally assigned; the answer's row report is
// shown as a table (row, problem, column, value) for whoever prepared the file.
import { type FormEvent, useCallback, useState } from "react";

import type { ImportOutcome } from "../bindings/ImportOutcome";
import type { IssueKind } from "../bindings/IssueKind";
import type { UserAccount } from "../bindings/UserAccount";
import { describeError } from "../errors";
import { type Key, useLanguage, useT } from "../i18n";
import type { Api } from "../ipc";
import { ErrorBanner } from "./ErrorBanner";
import { ChoiceSelect, TableHead, useAction } from "./TeamParts";
import { useServer } from "./TeamScreen";

type ImportApi = Pick<Api, "importCsv" | "importSheet" | "teamMembers">;

const KIND_KEYS: Record<IssueKind, Key> = {
  invalid: "team.import.kind.invalid",
  duplicate: "team.import.kind.duplicate",
  merged: "team.import.kind.merged",
};

/** The spreadsheet id from a sheet's address (`…/spreadsheets/d/<id>/edit`), or the text as given. */
export function spreadsheetId(text: string): string {
  const m = /\/spreadsheets\/d\/([A-Za-z0-9_-]+)/.exec(text);
  return (m?.[1] ?? text).trim();
}

export function TeamImport({ api }: { api: ImportApi }) {
  const t = useT();
  const lang = useLanguage();
  const [source, setSource] = useState<"csv" | "sheet">("csv");
  const [file, setFile] = useState<File | null>(null);
  const [sheet, setSheet] = useState("");
  const [range, setRange] = useState("Sheet1!A1:L");
  const [merge, setMerge] = useState(false);
  const [assignTo, setAssignTo] = useState("");
  const { busy, error, run } = useAction();
  const [outcome, setOutcome] = useState<ImportOutcome | null>(null);
  const members = useServer<UserAccount[]>(useCallback(() => api.teamMembers(), [api]));
  const telecallers = (members.data ?? []).filter((m) => m.active && m.role === "telecaller");

  async function submit(e: FormEvent) {
    e.preventDefault();
    setOutcome(null);
    await run(async () => {
      const assign_to = assignTo || undefined;
      if (source === "csv") {
        if (!file) return;
        const bytes = Array.from(new Uint8Array(await readBytes(file)));
        setOutcome(await api.importCsv({ file_name: file.name, bytes, merge_duplicates: merge, assign_to }));
      } else {
        setOutcome(
          await api.importSheet({
            spreadsheet_id: spreadsheetId(sheet),
            range: range.trim(),
            merge_duplicates: merge,
            assign_to,
          }),
        );
      }
    });
  }

  const shown = error === null ? null : describeError(error, lang);
  const ready = source === "csv" ? file !== null : spreadsheetId(sheet) !== "" && range.trim() !== "";
  return (
    <div className="team-import" data-testid="team-import">
      <form className="card" onSubmit={submit} aria-labelledby="import-title">
        <h2 id="import-title">{t("team.import.title")}</h2>
        <fieldset className="chips" aria-label={t("team.import.source")}>
          <button
            type="button"
            className={`chip${source === "csv" ? " chip-on" : ""}`}
            aria-pressed={source === "csv"}
            onClick={() => setSource("csv")}
            data-testid="import-csv"
          >
            {t("team.import.csv")}
          </button>
          <button
            type="button"
            className={`chip${source === "sheet" ? " chip-on" : ""}`}
            aria-pressed={source === "sheet"}
            onClick={() => setSource("sheet")}
            data-testid="import-sheet"
          >
            {t("team.import.sheet")}
          </button>
        </fieldset>
        {source === "csv" ? (
          <label className="field">
            {t("team.import.file")}
            <input
              className="input"
              type="file"
              accept=".csv,text/csv"
              onChange={(e) => setFile(e.target.files?.[0] ?? null)}
              data-testid="import-file"
            />
            <span className="muted">{t("team.import.fileHint")}</span>
          </label>
        ) : (
          <>
            <label className="field">
              {t("team.import.sheetId")}
              <input
                className="input"
                value={sheet}
                onChange={(e) => setSheet(e.target.value)}
                placeholder="https://docs.google.com/spreadsheets/d/…"
                data-testid="import-sheet-id"
              />
              <span className="muted">{t("team.import.sheetHint")}</span>
            </label>
            <label className="field">
              {t("team.import.range")}
              <input className="input" value={range} onChange={(e) => setRange(e.target.value)} data-testid="import-range" />
            </label>
          </>
        )}
        <label className="check">
          <input type="checkbox" checked={merge} onChange={(e) => setMerge(e.target.checked)} />{" "}
          {t("team.import.merge")}
        </label>
        <label className="field">
          {t("team.import.assignTo")}
          <ChoiceSelect
            value={assignTo}
            onChange={setAssignTo}
            blank={t("team.import.asInFile")}
            choices={telecallers.map((m) => [m.username, m.name] as const)}
          />
        </label>
        <button type="submit" className="btn btn-primary" disabled={busy || !ready} data-testid="import-submit">
          {busy ? t("team.import.importing") : t("team.import.go")}
        </button>
      </form>

      {shown && (
        <ErrorBanner {...shown} testId="import-error" />
      )}
      {outcome && <ImportReportView outcome={outcome} />}
    </div>
  );
}

function readBytes(file: File): Promise<ArrayBuffer> {
  if (typeof file.arrayBuffer === "function") return file.arrayBuffer();
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result as ArrayBuffer);
    reader.onerror = () => reject(reader.error ?? new Error("cannot read the file"));
    reader.readAsArrayBuffer(file);
  });
}

/** The import's summary and its row-by-row report. */
export function ImportReportView({ outcome }: { outcome: ImportOutcome }) {
  const t = useT();
  const r = outcome.report;
  return (
    <section className="card" aria-labelledby="report-title" data-testid="import-report">
      <h2 id="report-title">{t("team.import.done")}</h2>
      <p data-testid="import-summary">
        {t("team.import.summary", {
          rows: r.rows,
          created: outcome.created,
          merged: outcome.merged,
          invalid: r.invalid,
        })}
      </p>
      {r.ignored_columns.length > 0 && (
        <p className="muted">{t("team.import.ignored", { columns: r.ignored_columns.join(", ") })}</p>
      )}
      {r.issues.length === 0 ? (
        <p className="muted" data-testid="import-clean">
          {t("team.import.clean")}
        </p>
      ) : (
        <table className="team-table" data-testid="import-issues">
          <caption>{t("team.import.issues", { n: r.issues_total })}</caption>
          <TableHead
            columns={[
              t("team.import.row"),
              t("team.import.problem"),
              t("team.import.column"),
              t("team.import.value"),
              t("team.import.why"),
            ]}
          />
          <tbody>
            {r.issues.map((i, n) => (
              <tr key={`${i.row}-${n}`} data-testid="import-issue" className={`issue-${i.kind}`}>
                <th scope="row">{i.row}</th>
                <td>{t(KIND_KEYS[i.kind])}</td>
                <td>{i.column ?? "—"}</td>
                <td>{i.value ?? "—"}</td>
                <td>
                  {i.reason}
                  {i.duplicate_of !== null && i.duplicate_of !== undefined
                    ? ` (${t("team.import.ofRow", { row: i.duplicate_of })})`
                    : ""}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {r.issues_truncated && <p className="muted">{t("team.import.truncated", { shown: r.issues.length, n: r.issues_total })}</p>}
    </section>
  );
}
