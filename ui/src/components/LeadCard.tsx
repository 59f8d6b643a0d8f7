import type { Lead } from "../bindings/Lead";
import { SOURCE_LABELS, formatInr, formatPhone } from "../format";
import { PriorityBadge, StatusBadge } from "./Badges";

interface Props {
  lead: Lead;
  onCall: (lead: Lead) => void;
  onClose: () => void;
}

/** The lead a notification pointed at, brought to the top of the screen with its Call button. */
export function LeadCard({ lead, onCall, onClose }: Props) {
  const dnc = lead.status === "do_not_call";
  return (
    <section className="card focus-card" aria-label={`Lead ${lead.name}`} data-testid="focused-lead" data-lead-id={lead.id}>
      <div className="focus-card-main">
        <h2 data-testid="focused-lead-name">{lead.name}</h2>
        <div className="focus-card-facts">
          <span className="phone">{formatPhone(lead.phone)}</span>
          {lead.city && <span>{lead.city}</span>}
          {lead.interest && <span>{lead.interest}</span>}
          {lead.budget_inr !== null && <span>{formatInr(lead.budget_inr)}</span>}
          <span className="muted">{SOURCE_LABELS[lead.source]}</span>
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
          title={dnc ? "This lead asked not to be called" : undefined}
          onClick={() => onCall(lead)}
          data-testid="focused-lead-call"
        >
          Call {lead.name.split(" ")[0]}
        </button>
        <button type="button" className="btn btn-secondary" onClick={onClose} aria-label="Close the lead card">
          Close
        </button>
      </div>
    </section>
  );
}
