import type { Lead } from "../bindings/Lead";
import { formatInr, formatPhone, sourceLabel } from "../format";
import { useLanguage, useT } from "../i18n";
import { PriorityBadge, StatusBadge } from "./Badges";

interface Props {
  lead: Lead;
  onCall: (lead: Lead) => void;
  onClose: () => void;
  /** Opens the lead in full. */
  onDetails?: (lead: Lead) => void;
}

/** The lead a notification pointed at, brought to the top of the screen with its Call button. */
export function LeadCard({ lead, onCall, onClose, onDetails }: Props) {
  const lang = useLanguage();
  const t = useT();
  const dnc = lead.status === "do_not_call";
  return (
    <section className="card focus-card" aria-label={t("card.label", { name: lead.name })} data-testid="focused-lead" data-lead-id={lead.id}>
      <div className="focus-card-main">
        <h2 data-testid="focused-lead-name">{lead.name}</h2>
        <div className="focus-card-facts">
          <span className="phone">{formatPhone(lead.phone)}</span>
          {lead.city && <span>{lead.city}</span>}
          {lead.interest && <span>{lead.interest}</span>}
          {lead.budget_inr !== null && <span>{formatInr(lead.budget_inr)}</span>}
          <span className="muted">{sourceLabel(lead.source, lang)}</span>
          <PriorityBadge priority={lead.priority} />
          <StatusBadge status={lead.status} />
        </div>
        {lead.tags.length > 0 && (
          <div className="focus-card-tags">
            {lead.tags.map((t) => (
              <span key={t} className="tag">
                {t}
              </span>
            ))}
          </div>
        )}
      </div>
      <div className="focus-card-actions">
        <button
          type="button"
          className="btn btn-primary"
          disabled={dnc}
          title={dnc ? t("card.doNotCall") : undefined}
          onClick={() => onCall(lead)}
          data-testid="focused-lead-call"
        >
          {t("action.callName", { name: lead.name.split(" ")[0] ?? lead.name })}
        </button>
        {onDetails && (
          <button
            type="button"
            className="btn btn-secondary"
            onClick={() => onDetails(lead)}
            data-testid="focused-lead-details"
          >
            {t("detail.open")}
          </button>
        )}
        <button type="button" className="btn btn-secondary" onClick={onClose} aria-label={t("card.close")}>
          {t("action.close")}
        </button>
      </div>
    </section>
  );
}
