import type { LeadPriority } from "../bindings/LeadPriority";
import type { LeadStatus } from "../bindings/LeadStatus";
import { PRIORITY_LABELS, STATUS_LABELS } from "../format";

export function StatusBadge({ status }: { status: LeadStatus }) {
  return <span className={`badge status-${status}`}>{STATUS_LABELS[status]}</span>;
}

export function PriorityBadge({ priority }: { priority: LeadPriority }) {
  return (
    <span className={`priority priority-${priority}`}>
      <span className="priority-dot" aria-hidden="true" />
      {PRIORITY_LABELS[priority]}
    </span>
  );
}
