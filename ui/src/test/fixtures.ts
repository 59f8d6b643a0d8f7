import type { AppStatus } from "../bindings/AppStatus";
import type { Lead } from "../bindings/Lead";

let seq = 0;

export function lead(overrides: Partial<Lead> = {}): Lead {
  seq += 1;
  return {
    id: `01936f4e-8c2a-7000-8000-${String(seq).padStart(12, "0")}`,
    name: `Lead ${seq}`,
    phone: "+919876543210",
    alternate_phone: null,
    email: null,
    city: "Chennai",
    source: "website",
    interest: "Gold coins",
    budget_inr: 50000,
    priority: "normal",
    status: "new",
    tags: [],
    assigned_to: null,
    created_at: "2026-11-20T10:00:00Z",
    updated_at: "2026-11-25T09:00:00Z",
    version: 1,
    ...overrides,
  };
}

export function status(overrides: Partial<AppStatus> = {}): AppStatus {
  return {
    signed_in: true,
    user: {
      id: "01936f4e-8c2a-7000-8000-00000000aaaa",
      username: "priya",
      name: "Priya Raman",
      role: "telecaller",
      team: null,
    },
    server_url: "http://127.0.0.1:8080",
    lead_count: 2,
    last_sync_at: "2026-11-25T09:58:00Z",
    syncing: false,
    last_error: null,
    ...overrides,
  };
}
