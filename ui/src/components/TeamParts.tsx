// Pieces the team screens share: a select with a blank first choice, a table's column heads, an
// action's busy and error state, and the editor tables (goals, dispositions) whose rows are each a small form: cells of inputs tied to the form
// by `form={formId}`, and a last cell that saves the row and says how that went.
import { type FormEvent, type ReactNode, useCallback, useState } from "react";

import { describeError } from "../errors";
import { useLanguage, useT } from "../i18n";

/** A select whose first option is blank; `blank` says what that means ("Any", "Pick…", "As in the file"). */
export function ChoiceSelect<V extends string>({
  value,
  onChange,
  blank,
  choices,
  required,
  testId,
}: {
  value: V | "";
  onChange: (value: V | "") => void;
  blank: string;
  /** Each choice's value and text, in order. */
  choices: ReadonlyArray<readonly [V, string]>;
  required?: boolean;
  testId?: string;
}) {
  return (
    <select
      className="input"
      value={value}
      onChange={(e) => onChange(e.target.value as V | "")}
      required={required}
      data-testid={testId}
    >
      <option value="">{blank}</option>
      {choices.map(([v, text]) => (
        <option key={v} value={v}>
          {text}
        </option>
      ))}
    </select>
  );
}

/** A table's head: one column head a column, in order. */
export function TableHead({ columns }: { columns: ReactNode[] }) {
  return (
    <thead>
      <tr>
        {columns.map((c, i) => (
          <th key={i} scope="col">
            {c}
          </th>
        ))}
      </tr>
    </thead>
  );
}

/** An editor's table: the columns, then one for the rows' save buttons (named for screen readers only). */
export function EditorTable({ columns, children }: { columns: ReactNode[]; children: ReactNode }) {
  const t = useT();
  return (
    <table className="team-table">
      <TableHead columns={[...columns, <span className="sr-only">{t("action.save")}</span>]} />
      <tbody>{children}</tbody>
    </table>
  );
}

/** A cell with a whole number input of the row's form (trimmed as typed). */
export function NumberCell({
  form,
  value,
  onChange,
  label,
}: {
  form: string;
  value: string;
  onChange: (value: string) => void;
  label: string;
}) {
  return (
    <td>
      <input
        form={form}
        className="input input-number"
        inputMode="numeric"
        value={value}
        onChange={(e) => onChange(e.target.value.trim())}
        aria-label={label}
      />
    </td>
  );
}

/**
 * One action at a time (a save, a transfer, an import) and how it went: `busy` while `run(work)` runs,
 * then the error `work` threw, if any; `run` says whether it went through.
 */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = useCallback(async (work: () => Promise<void>): Promise<boolean> => {
    setBusy(true);
    setError(null);
    try {
      await work();
      return true;
    } catch (err) {
      setError(err);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run };
}

/**
 * The row's form (`formId`) and its save button, named `label` for screen readers: while `valid`, a
 * submit runs `onSave`, then says "Saved" or, when it throws, why not.
 */
export function SaveCell({
  formId,
  valid,
  label,
  text,
  onSave,
}: {
  formId: string;
  valid: boolean;
  label: string;
  /** The button's text; "Save" when not given. */
  text?: string;
  onSave: () => Promise<void>;
}) {
  const t = useT();
  const lang = useLanguage();
  const { busy, error, run } = useAction();
  const [done, setDone] = useState(false);
  async function save(e: FormEvent) {
    e.preventDefault();
    if (!valid) return;
    setDone(false);
    if (await run(onSave)) setDone(true);
  }
  const shown = error === null ? null : describeError(error, lang);
  return (
    <td>
      <form id={formId} onSubmit={save}>
        <button type="submit" className="btn btn-secondary" disabled={busy || !valid} aria-label={label}>
          {busy ? t("action.saving") : (text ?? t("action.save"))}
        </button>
        {done && <span className="muted" role="status"> {t("team.saved")}</span>}
        {shown && (
          <span className="error-text" role="alert">
            {" "}
            {shown.detail}
          </span>
        )}
      </form>
    </td>
  );
}
