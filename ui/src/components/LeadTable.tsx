import type { Lead } from "../bindings/Lead";
import { SOURCE_LABELS, formatInr, formatPhone, formatRelative } from "../format";
import { PriorityBadge, StatusBadge } from "./Badges";

interface Props {
  leads: Lead[];
  now: Date;
  /** Shown instead of rows when `leads` is empty. */
  emptyText: string;
  /** Calls the lead (a Call button per row when given). */
  onCall?: (lead: Lead) => void;
}

export function LeadTable({ leads, now, emptyText, onCall }: Props) {
  if (leads.length === 0) {
    return (
      <div className="empty" data-testid="lead-empty">
        {emptyText}
      </div>
    );
  }
  return (
    <table className="leads" data-testid="lead-table">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Phone</th>
          <th scope="col">City</th>
          <th scope="col">Interest</th>
          <th scope="col">Priority</th>
          <th scope="col">Status</th>
          <th scope="col" className="num">
            Updated
          </th>
          {onCall && (
            <th scope="col">
              <span className="sr-only">Call</span>
            </th>
          )}
        </tr>
      </thead>
      <tbody>
        {leads.map((lead) => (
          <tr key={lead.id} data-testid="lead-row" data-lead-id={lead.id}>
            <td>
              <div className="lead-name" data-testid="lead-name">
                {lead.name}
              </div>
              <div className="lead-sub">{SOURCE_LABELS[lead.source]}</div>
            </td>
            <td className="phone">{formatPhone(lead.phone)}</td>
            <td>{lead.city ?? <span className="muted">—</span>}</td>
            <td>
              {lead.interest ?? <span className="muted">—</span>}
              {lead.budget_inr !== null && <div className="lead-sub">{formatInr(lead.budget_inr)}</div>}
            </td>
            <td>
              <PriorityBadge priority={lead.priority} />
            </td>
            <td>
              <StatusBadge status={lead.status} />
            </td>
            <td className="num muted" title={new Date(lead.updated_at).toLocaleString("en-IN")}>
              {formatRelative(lead.updated_at, now)}
            </td>
            {onCall && (
              <td>
                <button
                  type="button"
                  className="btn btn-secondary btn-call"
                  aria-label={`Call ${lead.name}`}
                  data-testid="call-lead"
                  disabled={lead.status === "do_not_call"}
                  title={lead.status === "do_not_call" ? "This lead asked not to be called" : undefined}
                  onClick={() => onCall(lead)}
                >
                  Call
                </button>
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
