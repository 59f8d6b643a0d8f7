//! Push `create_lead`: leads made on a device (a CSV import into the desktop cache) reach the server once,
//! in the caller's scope, validated like `POST /api/v1/leads`.

use chrono::{Duration, SubsecRound, Utc};
use leadline_model::sync::PushResponse;
use leadline_model::sync::{
    Change, Cursor, Mutation, MutationOp, MutationStatus, PROTOCOL_VERSION, PushBatch,
};
use leadline_model::{Id, Lead, LeadPriority, LeadSource, LeadStatus, PhoneNumber, User, new_id};
use leadline_server::db;
use leadline_server::{RunningServer, params};

use super::common::*;

struct Env {
    db: TestDb,
    server: RunningServer,
    http: reqwest::Client,
    base: String,
}

impl Env {
    async fn new(name: &str) -> Env {
        let db = TestDb::copy_of_seeded(name);
        let server = db.start().await;
        let base = server.base_url();
        Env {
            db,
            server,
            http: client(),
            base,
        }
    }

    fn token(&self, username: &str) -> String {
        token(&self.server, &self.db, username)
    }

    async fn push_as(&self, username: &str, mutations: &[Mutation]) -> Vec<MutationStatus> {
        let batch = PushBatch {
            protocol: PROTOCOL_VERSION,
            device_id: format!("{username}-laptop"),
            mutations: mutations.to_vec(),
        };
        let res = self
            .http
            .post(format!("{}/api/v1/sync/push", self.base))
            .bearer_auth(self.token(username))
            .json(&batch)
            .send()
            .await
            .expect("push");
        assert_eq!(res.status(), 200);
        let body: PushResponse = res.json().await.expect("PushResponse");
        assert_eq!(body.results.len(), mutations.len());
        body.results.into_iter().map(|r| r.status).collect()
    }

    fn stored(&self, id: Id) -> Option<Lead> {
        self.db.tx(move |tx| db::lead_by_id(tx, &id))
    }

    fn team_of_lead(&self, id: Id) -> Option<String> {
        self.db
            .query("SELECT team FROM leads WHERE id = $1", params![db::id_text(&id)])
            .first()
            .map(|r| r.get::<Option<String>>(0).unwrap())
            .unwrap_or_else(|| panic!("no lead {id}"))
    }

    /// A phone of a lead assigned to `user`.
    fn phone_of_a_lead_of(&self, user: &User) -> PhoneNumber {
        let id = self
            .db
            .query(
                "SELECT id FROM leads WHERE assigned_to = $1 ORDER BY id LIMIT 1",
                params![db::id_text(&user.id)],
            )
            .first()
            .map(|r| Id::parse_str(&r.get::<String>(0).unwrap()).unwrap())
            .expect("a lead");
        self.stored(id).expect("lead").phone
    }
}

fn mutation(op: MutationOp) -> Mutation {
    Mutation {
        client_mutation_id: new_id(),
        created_at: Utc::now(),
        op,
    }
}

/// A lead as a device makes it; the phone is one the demo data does not use (+91 70000 xxxxx).
fn device_lead(n: u32, assignee: Option<&User>) -> Lead {
    let now = Utc::now().trunc_subsecs(6);
    Lead {
        id: new_id(),
        name: format!("Imported Lead {n}"),
        phone: PhoneNumber::parse(&format!("+9170000{n:05}")).unwrap(),
        alternate_phone: None,
        email: Some(format!("lead{n}@example.com")),
        city: Some("Thane".into()),
        source: LeadSource::Referral,
        interest: Some("diamond ring".into()),
        budget_inr: Some(90_000),
        priority: LeadPriority::High,
        status: LeadStatus::Interested,
        tags: vec!["csv".into()],
        assigned_to: assignee.map(|u| u.id),
        created_at: now - Duration::minutes(3),
        updated_at: now - Duration::minutes(3),
        version: 1,
    }
}

fn rejected(s: &MutationStatus) -> &str {
    match s {
        MutationStatus::Rejected { reason } => reason,
        other => panic!("expected rejected, got {other:?}"),
    }
}

#[tokio::test]
async fn a_telecaller_creates_her_own_lead_once_and_it_is_pulled() {
    let env = Env::new("push_lead_created").await;
    let priya = env.db.user("priya");
    let lead = device_lead(1, Some(&priya));
    let create = mutation(MutationOp::CreateLead(lead.clone()));
    assert_eq!(
        env.push_as("priya", std::slice::from_ref(&create)).await,
        vec![MutationStatus::Applied]
    );

    let stored = env.stored(lead.id).expect("created with the device's id");
    assert_eq!(stored.name, lead.name);
    assert_eq!(stored.phone, lead.phone);
    assert_eq!(stored.email, lead.email);
    assert_eq!(
        (stored.source, stored.priority, stored.status),
        (lead.source, lead.priority, lead.status)
    );
    assert_eq!(stored.assigned_to, Some(priya.id));
    assert_eq!(stored.version, 1);
    assert_eq!(
        stored.created_at,
        lead.created_at.trunc_subsecs(3),
        "the device's creation time"
    );
    assert_eq!(env.team_of_lead(lead.id), priya.team, "her team's lead");

    // The same batch again (answer lost), and the same lead under a new mutation id: applied once.
    assert_eq!(
        env.push_as("priya", &[create]).await,
        vec![MutationStatus::Duplicate]
    );
    let again = mutation(MutationOp::CreateLead(lead.clone()));
    assert_eq!(
        env.push_as("priya", &[again]).await,
        vec![MutationStatus::Duplicate]
    );
    assert_eq!(
        env.db.scalar::<i64>(
            "SELECT count(*) FROM leads WHERE id = $1",
            params![db::id_text(&lead.id)]
        ),
        1
    );

    // In her feed (it took a seq), and in her supervisor's.
    for who in ["priya", "meera"] {
        let (pages, _) = pull_all(&env.http, &env.base, &env.token(who), Cursor::start(), 1000).await;
        let seen: Vec<&Lead> = pages
            .iter()
            .flat_map(|p| &p.changes)
            .filter_map(|c| match c {
                Change::Lead(l) if l.id == lead.id => Some(l),
                _ => None,
            })
            .collect();
        assert_eq!(seen.len(), 1, "{who}");
        assert_eq!(seen[0].phone, lead.phone);
    }
    let (pages, _) = pull_all(&env.http, &env.base, &env.token("arjun"), Cursor::start(), 1000).await;
    assert!(
        !pages
            .iter()
            .flat_map(|p| &p.changes)
            .any(|c| matches!(c, Change::Lead(l) if l.id == lead.id)),
        "not in another telecaller's feed"
    );

    // An edit queued after the create, based on version 1, applies on top of it.
    let edit = mutation(MutationOp::UpdateLead {
        lead_id: lead.id,
        base_version: 1,
        patch: leadline_model::sync::LeadPatch {
            status: Some(LeadStatus::Contacted),
            ..Default::default()
        },
    });
    assert_eq!(env.push_as("priya", &[edit]).await, vec![MutationStatus::Applied]);
    assert_eq!(env.stored(lead.id).unwrap().version, 2);
}

#[tokio::test]
async fn a_phone_a_visible_lead_has_is_a_duplicate_phone_and_nothing_is_written() {
    let env = Env::new("push_lead_dup_phone").await;
    let priya = env.db.user("priya");
    let mut lead = device_lead(2, Some(&priya));
    lead.phone = env.phone_of_a_lead_of(&priya);
    let mut alt = device_lead(3, Some(&priya));
    alt.alternate_phone = Some(lead.phone.clone());
    // Two new leads of one batch with the same number: the second is the duplicate.
    let first = device_lead(4, Some(&priya));
    let mut second = device_lead(5, Some(&priya));
    second.phone = first.phone.clone();
    let statuses = env
        .push_as(
            "priya",
            &[
                mutation(MutationOp::CreateLead(lead.clone())),
                mutation(MutationOp::CreateLead(alt.clone())),
                mutation(MutationOp::CreateLead(first.clone())),
                mutation(MutationOp::CreateLead(second.clone())),
            ],
        )
        .await;
    assert!(
        rejected(&statuses[0]).starts_with("duplicate_phone: "),
        "{statuses:?}"
    );
    assert!(
        rejected(&statuses[1]).starts_with("duplicate_phone: "),
        "{statuses:?}"
    );
    assert_eq!(statuses[2], MutationStatus::Applied);
    assert_eq!(
        rejected(&statuses[3]),
        format!("duplicate_phone: lead {} has this phone number", first.id)
    );
    assert!(env.stored(lead.id).is_none());
    assert!(env.stored(alt.id).is_none());
    assert!(env.stored(second.id).is_none());
}

#[tokio::test]
async fn who_may_create_for_whom() {
    let env = Env::new("push_lead_roles").await;
    let priya = env.db.user("priya");
    let arjun = env.db.user("arjun");
    let meera = env.db.user("meera");
    let for_arjun = device_lead(6, Some(&arjun));
    let unassigned = device_lead(7, None);
    let statuses = env
        .push_as(
            "priya",
            &[
                mutation(MutationOp::CreateLead(for_arjun.clone())),
                mutation(MutationOp::CreateLead(unassigned.clone())),
            ],
        )
        .await;
    for s in &statuses {
        assert!(rejected(s).starts_with("forbidden: "), "{s:?}");
    }
    assert!(env.stored(for_arjun.id).is_none());
    assert!(env.stored(unassigned.id).is_none());

    // A supervisor creates for a member of her team, or unassigned; the lead is her team's.
    let statuses = env
        .push_as(
            "meera",
            &[
                mutation(MutationOp::CreateLead(for_arjun.clone())),
                mutation(MutationOp::CreateLead(unassigned.clone())),
            ],
        )
        .await;
    assert_eq!(statuses, vec![MutationStatus::Applied, MutationStatus::Applied]);
    assert_eq!(env.stored(for_arjun.id).unwrap().assigned_to, Some(arjun.id));
    assert_eq!(env.team_of_lead(unassigned.id), meera.team);

    // Priya cannot claim arjun's lead's id (she may not see it): not a silent duplicate.
    let mut taken = device_lead(8, Some(&priya));
    taken.id = for_arjun.id;
    let statuses = env
        .push_as("priya", &[mutation(MutationOp::CreateLead(taken))])
        .await;
    assert!(
        rejected(&statuses[0]).starts_with("duplicate_id: "),
        "{statuses:?}"
    );
    assert_eq!(env.stored(for_arjun.id).unwrap().name, for_arjun.name);
}

#[tokio::test]
async fn invalid_fields_are_rejected_with_their_code() {
    let env = Env::new("push_lead_invalid").await;
    let priya = env.db.user("priya");
    let base = |n| device_lead(n, Some(&priya));
    let mut cases: Vec<(Lead, &str)> = Vec::new();
    let mut l = base(10);
    l.name = "   ".into();
    cases.push((l, "bad_name"));
    let mut l = base(11);
    l.name = "x".repeat(201);
    cases.push((l, "bad_name"));
    let mut l = base(12);
    l.email = Some("not-an-email".into());
    cases.push((l, "bad_email"));
    let mut l = base(13);
    l.budget_inr = Some(-5);
    cases.push((l, "bad_budget"));
    let mut l = base(14);
    l.tags = (0..40).map(|i| format!("t{i}")).collect();
    cases.push((l, "bad_tags"));
    let mut l = base(15);
    l.city = Some("Pune\0".into());
    cases.push((l, "bad_city"));
    let mut l = base(16);
    l.created_at = Utc::now() + Duration::days(1);
    cases.push((l, "bad_created_at"));
    let mutations: Vec<Mutation> = cases
        .iter()
        .map(|(l, _)| mutation(MutationOp::CreateLead(l.clone())))
        .collect();
    let statuses = env.push_as("priya", &mutations).await;
    for ((lead, code), status) in cases.iter().zip(&statuses) {
        assert!(
            rejected(status).starts_with(&format!("{code}: ")),
            "{code}: {status:?}"
        );
        assert!(env.stored(lead.id).is_none(), "{code}");
    }

    // A number that is not E.164 does not even read as a lead: the wire type refuses it.
    let mut raw = serde_json::to_value(mutation(MutationOp::CreateLead(base(17)))).unwrap();
    raw["data"]["phone"] = serde_json::json!("12");
    assert!(serde_json::from_value::<Mutation>(raw).is_err());

    // Text is trimmed, empty optional text dropped, an alternate equal to the phone dropped, and the
    // version is the server's.
    let mut messy = base(18);
    messy.name = "  Neha  ".into();
    messy.city = Some("  ".into());
    messy.tags = vec![" gold ".into()];
    messy.alternate_phone = Some(messy.phone.clone());
    messy.version = 7;
    let statuses = env
        .push_as("priya", &[mutation(MutationOp::CreateLead(messy.clone()))])
        .await;
    assert_eq!(statuses, vec![MutationStatus::Applied]);
    let stored = env.stored(messy.id).unwrap();
    assert_eq!(stored.name, "Neha");
    assert_eq!(stored.city, None);
    assert_eq!(stored.tags, vec!["gold"]);
    assert_eq!(stored.alternate_phone, None);
    assert_eq!(stored.version, 1);
}
