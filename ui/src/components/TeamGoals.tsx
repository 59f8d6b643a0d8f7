// Daily goals: the team default and each telecaller's own (which wins over the default). Supervisors set
// their team's; the Today screen and the team dashboard measure against them.
import { useCallback, useState } from "react";

import type { Goal } from "../bindings/Goal";
import type { UserAccount } from "../bindings/UserAccount";
import { useT } from "../i18n";
import type { Api } from "../ipc";
import { EditorTable, NumberCell, SaveCell } from "./TeamParts";
import { TeamError, useServer } from "./TeamScreen";

type GoalsApi = Pick<Api, "teamGoals" | "setGoal" | "teamMembers">;

export function TeamGoals({ api }: { api: GoalsApi }) {
  const t = useT();
  const goals = useServer<Goal[]>(useCallback(() => api.teamGoals(), [api]));
  const members = useServer<UserAccount[]>(useCallback(() => api.teamMembers(), [api]));
  const error = goals.error ?? members.error;
  if (error !== null) {
    return (
      <TeamError
        error={error}
        onRetry={() => {
          goals.reload();
          members.reload();
        }}
      />
    );
  }
  if (goals.data === null || members.data === null) {
    return <div className="card skeleton skeleton-block" aria-busy="true" data-testid="goals-loading" />;
  }
  const list = goals.data;
  const telecallers = members.data.filter((m) => m.active && m.role === "telecaller");
  const teamDefault = list.find((g) => !g.user_id) ?? null;
  const saved = (g: Goal) =>
    goals.setData([...list.filter((x) => (x.user_id ?? null) !== (g.user_id ?? null)), g]);
  return (
    <section className="card" aria-labelledby="goals-title" data-testid="team-goals">
      <h2 id="goals-title">{t("team.goals.title")}</h2>
      <p className="muted">{t("team.goals.hint")}</p>
      {teamDefault === null && (
        <p className="empty" data-testid="goals-empty">
          {t("team.goals.none")}
        </p>
      )}
      <EditorTable columns={[t("team.goals.who"), t("team.goals.calls"), t("team.goals.conversions")]}>
        <GoalRow api={api} label={t("team.goals.default")} userId={null} goal={teamDefault} onSaved={saved} />
        {telecallers.map((m) => (
          <GoalRow
            key={m.id}
            api={api}
            label={m.name}
            userId={m.id}
            goal={list.find((g) => g.user_id === m.id) ?? null}
            fallback={teamDefault}
            onSaved={saved}
          />
        ))}
      </EditorTable>
    </section>
  );
}

function GoalRow({
  api,
  label,
  userId,
  goal,
  fallback,
  onSaved,
}: {
  api: Pick<Api, "setGoal">;
  label: string;
  userId: string | null;
  goal: Goal | null;
  fallback?: Goal | null;
  onSaved: (g: Goal) => void;
}) {
  const t = useT();
  const shownGoal = goal ?? fallback ?? null;
  const [calls, setCalls] = useState(String(shownGoal?.daily_calls ?? ""));
  const [conversions, setConversions] = useState(String(shownGoal?.daily_conversions ?? ""));
  const valid = /^\d{1,5}$/.test(calls) && /^\d{1,5}$/.test(conversions);
  async function save() {
    const g = await api.setGoal({
      user_id: userId ?? undefined,
      daily_calls: Number(calls),
      daily_conversions: Number(conversions),
    });
    onSaved(g);
  }
  const formId = `goal-${userId ?? "team"}`;
  return (
    <tr data-testid={formId}>
      <th scope="row">
        {label}
        {userId !== null && goal === null && <span className="muted"> {t("team.goals.usesDefault")}</span>}
      </th>
      <NumberCell form={formId} value={calls} onChange={setCalls} label={t("team.goals.callsOf", { name: label })} />
      <NumberCell
        form={formId}
        value={conversions}
        onChange={setConversions}
        label={t("team.goals.conversionsOf", { name: label })}
      />
      <SaveCell formId={formId} valid={valid} label={t("team.goals.saveOf", { name: label })} onSave={save} />
    </tr>
  );
}
