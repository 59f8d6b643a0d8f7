// The disposition catalogue editor (admins): labels, category, whether a follow-up is required, hotkeys
// 1–9, order, and retiring codes (inactive); a new code is added at the end. The server keeps the
// catalogue; every desktop gets it with its next sync.
import { useCallback, useState } from "react";

import type { DispositionCategory } from "../bindings/DispositionCategory";
import type { DispositionEntry } from "../bindings/DispositionEntry";
import { useT } from "../i18n";
import type { Api } from "../ipc";
import { EditorTable, NumberCell, SaveCell } from "./TeamParts";
import { TeamError, useServer } from "./TeamScreen";

type CatalogueApi = Pick<Api, "dispositionCatalogue" | "saveDisposition">;

export function TeamDispositions({ api }: { api: CatalogueApi }) {
  const t = useT();
  const catalogue = useServer<DispositionEntry[]>(useCallback(() => api.dispositionCatalogue(), [api]));
  if (catalogue.error !== null) return <TeamError error={catalogue.error} onRetry={catalogue.reload} />;
  if (catalogue.data === null) {
    return <div className="card skeleton skeleton-block" aria-busy="true" data-testid="catalogue-loading" />;
  }
  const entries = [...catalogue.data].sort((a, b) => a.position - b.position || a.code.localeCompare(b.code));
  const nextPosition = entries.reduce((n, e) => Math.max(n, e.position + 1), 0);
  return (
    <section className="card" aria-labelledby="catalogue-title" data-testid="team-dispositions">
      <h2 id="catalogue-title">{t("team.dispo.title")}</h2>
      <p className="muted">{t("team.dispo.hint")}</p>
      {entries.length === 0 && (
        <p className="empty" data-testid="catalogue-empty">
          {t("team.dispo.none")}
        </p>
      )}
      <EditorTable
        columns={[
          t("team.dispo.code"),
          t("team.dispo.label"),
          t("team.dispo.category"),
          t("team.dispo.followUp"),
          t("team.dispo.hotkey"),
          t("team.dispo.position"),
          t("team.dispo.active"),
        ]}
      >
        {entries.map((e) => (
          <EntryRow key={e.code} api={api} entry={e} onSaved={(all) => catalogue.setData(all)} />
        ))}
        <EntryRow
          key={`new-${nextPosition}`}
          api={api}
          entry={null}
          position={nextPosition}
          onSaved={(all) => catalogue.setData(all)}
        />
      </EditorTable>
    </section>
  );
}

function EntryRow({
  api,
  entry,
  position = 0,
  onSaved,
}: {
  api: Pick<Api, "saveDisposition">;
  entry: DispositionEntry | null;
  position?: number;
  onSaved: (all: DispositionEntry[]) => void;
}) {
  const t = useT();
  const [code, setCode] = useState(entry?.code ?? "");
  const [label, setLabel] = useState(entry?.label ?? "");
  const [category, setCategory] = useState<DispositionCategory>(entry?.category ?? "connected");
  const [followUp, setFollowUp] = useState(entry?.requires_follow_up ?? false);
  const [hotkey, setHotkey] = useState(entry?.hotkey ? String(entry.hotkey) : "");
  const [pos, setPos] = useState(String(entry?.position ?? position));
  const [active, setActive] = useState(entry?.active ?? true);
  const codeOk = /^[a-z0-9_]{1,40}$/.test(code);
  const valid = codeOk && label.trim() !== "" && /^\d{1,4}$/.test(pos);
  const formId = `dispo-${entry?.code ?? "new"}`;
  const name = entry?.label ?? t("team.dispo.new");
  async function save() {
    const all = await api.saveDisposition({
      code,
      label: label.trim(),
      category,
      requires_follow_up: followUp,
      hotkey: hotkey ? Number(hotkey) : null,
      position: Number(pos),
      active,
    });
    onSaved(all);
  }
  return (
    <tr data-testid={formId}>
      <td>
        {entry ? (
          <code>{entry.code}</code>
        ) : (
          <input
            form={formId}
            className="input"
            value={code}
            onChange={(e) => setCode(e.target.value.trim().toLowerCase())}
            placeholder="visit_done"
            aria-label={t("team.dispo.newCode")}
            aria-invalid={code !== "" && !codeOk}
          />
        )}
      </td>
      <td>
        <input
          form={formId}
          className="input"
          value={label}
          maxLength={80}
          onChange={(e) => setLabel(e.target.value)}
          aria-label={t("team.dispo.labelOf", { name })}
        />
      </td>
      <td>
        <select
          form={formId}
          className="input"
          value={category}
          onChange={(e) => setCategory(e.target.value as DispositionCategory)}
          aria-label={t("team.dispo.categoryOf", { name })}
        >
          <option value="connected">{t("team.dispo.connected")}</option>
          <option value="not_connected">{t("team.dispo.notConnected")}</option>
        </select>
      </td>
      <td>
        <input
          form={formId}
          type="checkbox"
          checked={followUp}
          onChange={(e) => setFollowUp(e.target.checked)}
          aria-label={t("team.dispo.followUpOf", { name })}
        />
      </td>
      <td>
        <select
          form={formId}
          className="input"
          value={hotkey}
          onChange={(e) => setHotkey(e.target.value)}
          aria-label={t("team.dispo.hotkeyOf", { name })}
        >
          <option value="">—</option>
          {[1, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => (
            <option key={k} value={String(k)}>
              {k}
            </option>
          ))}
        </select>
      </td>
      <NumberCell form={formId} value={pos} onChange={setPos} label={t("team.dispo.positionOf", { name })} />
      <td>
        <input
          form={formId}
          type="checkbox"
          checked={active}
          onChange={(e) => setActive(e.target.checked)}
          aria-label={t("team.dispo.activeOf", { name })}
        />
      </td>
      <SaveCell
        formId={formId}
        valid={valid}
        label={entry ? t("team.dispo.saveOf", { name }) : t("team.dispo.add")}
        text={entry ? undefined : t("team.dispo.add")}
        onSave={save}
      />
    </tr>
  );
}
