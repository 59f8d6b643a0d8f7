import type { LeadPriority } from "../bindings/LeadPriority";
import type { LeadStatus } from "../bindings/LeadStatus";
import { priorityLabel, statusLabel } from "../format";
import { useLanguage } from "../i18n";

export function StatusBadge({ status }: { status: LeadStatus }) {
  const lang = useLanguage();
  return <span className={`badge status-${status}`}>{statusLabel(status, lang)}</span>;
}

export function PriorityBadge({ priority }: { priority: LeadPriority }) {
  const lang = useLanguage();
  return (
    <span className={`priority priority-${priority}`}>
      <span className="priority-dot" aria-hidden="true" />
      {priorityLabel(priority, lang)}
    </span>
  );
}
