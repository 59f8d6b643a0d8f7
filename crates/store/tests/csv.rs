#![allow(clippy::unwrap_used)]
//! CSV export and import of the local cache, through real files.

use chrono::{Duration, SubsecRound, Utc};
use leadline_model::import::{ImportError, ImportOptions, IssueKind};
use leadline_model::sync::{Change, Cursor, MutationOp, PROTOCOL_VERSION, PullPage};
use leadline_model::*;
use leadline_store::{CallExport, LEAD_EXPORT_COLUMNS, LeadExport, LeadQuery, Store, StoreError};

fn now() -> Timestamp {
    Utc::now().trunc_subsecs(6)
}

fn user(name: &str) -> User {
    User {
        id: new_id(),
        username: name.into(),
        name: name.into(),
        role: Role::Telecaller,
        team: Some("Bandra Showroom".into()),
    }
}

fn lead(name: &str, phone: &str, owner: &User) -> Lead {
    let now = now();
    Lead {
        id: new_id(),
        name: name.into(),
        phone: PhoneNumber::parse(phone).unwrap(),
        alternate_phone: None,
        email: None,
        city: Some("Mumbai".into()),
        source: LeadSource::Instagram,
        interest: Some("bridal necklace".into()),
        budget_inr: Some(250_000),
        priority: LeadPriority::Hot,
        status: LeadStatus::Interested,
        tags: vec!["wedding".into(), "gold".into()],
        assigned_to: Some(owner.id),
        created_at: now,
        updated_at: now,
        version: 3,
    }
}

fn pull(store: &mut Store, leads: &[Lead]) {
    let changes = leads.iter().cloned().map(Change::Lead).collect();
    store
        .apply_pull_page(&PullPage {
            protocol: PROTOCOL_VERSION,
            changes,
            next_cursor: Cursor("c1".into()),
            has_more: false,
            dispositions: default_catalogue(),
            server_time: now(),
        })
        .unwrap();
}

fn signed_in(me: &User) -> Store {
    let mut store = Store::open_in_memory().unwrap();
    store.set_account("http://server", me).unwrap();
    store
}

/// The `create_lead` entries of the outbox.
fn created_in_outbox(store: &Store) -> Vec<Lead> {
    store
        .outbox_pending(u32::MAX)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.mutation.op {
            MutationOp::CreateLead(l) => Some(l),
            _ => None,
        })
        .collect()
}

fn by_phone(store: &Store, phone: &str) -> Lead {
    let all = store.list_leads(&LeadQuery::default()).unwrap();
    all.into_iter()
        .find(|l| l.phone.as_str() == phone)
        .unwrap_or_else(|| panic!("no lead with phone {phone}"))
}

#[test]
fn an_export_imports_again_with_every_field_and_one_create_lead_each() {
    let me = user("priya");
    let mut source = signed_in(&me);
    let mut asha = lead("Asha Mehta, \"Ashu\"", "+919876543210", &me);
    asha.alternate_phone = Some(PhoneNumber::parse("+919820012345").unwrap());
    asha.email = Some("asha@example.com".into());
    asha.tags = vec!["vip".into(), "diwali sale".into()];
    let mut ravi = lead("Ravi Kumar", "+14155550123", &me);
    ravi.city = None;
    ravi.interest = None;
    ravi.budget_inr = None;
    ravi.tags = vec![];
    ravi.status = LeadStatus::New;
    ravi.priority = LeadPriority::Low;
    ravi.source = LeadSource::Referral;
    let names: Vec<Lead> = (0..50)
        .map(|i| lead(&format!("Lead {i}"), &format!("+9198200{i:05}"), &me))
        .collect();
    pull(&mut source, &[asha.clone(), ravi.clone()]);
    pull(&mut source, &names);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leads.csv");
    let written = source
        .export_leads_csv(std::fs::File::create(&path).unwrap(), &LeadExport::default())
        .unwrap();
    assert_eq!(written, 52);
    let bytes = std::fs::read(&path).unwrap();
    let text = std::str::from_utf8(&bytes).unwrap();
    assert!(
        text.starts_with(&format!("{}\r\n", LEAD_EXPORT_COLUMNS.join(","))),
        "{text}"
    );
    assert!(
        text.contains("\"Asha Mehta, \"\"Ashu\"\"\",+919876543210,+919820012345,asha@example.com"),
        "RFC 4180 quoting: {text}"
    );
    assert!(text.contains(",priya,"), "the assignee by username");

    let other = user("arjun");
    let mut target = signed_in(&other);
    let done = target
        .import_leads_csv(&bytes, &ImportOptions::default())
        .unwrap();
    assert_eq!((done.created, done.duplicates, done.merged), (52, 0, 0));
    assert_eq!(done.report.rows, 52);
    assert_eq!(done.report.invalid, 0);
    assert_eq!(
        done.report.ignored_columns,
        vec!["id", "created_at", "updated_at"],
        "the extra columns are named, not lost silently"
    );
    assert_eq!(target.count_leads().unwrap(), 52);

    for original in [&asha, &ravi] {
        let got = by_phone(&target, original.phone.as_str());
        assert_ne!(got.id, original.id, "an import makes new leads");
        assert_eq!(got.name, original.name);
        assert_eq!(got.alternate_phone, original.alternate_phone);
        assert_eq!(got.email, original.email);
        assert_eq!(got.city, original.city);
        assert_eq!(got.source, original.source);
        assert_eq!(got.interest, original.interest);
        assert_eq!(got.budget_inr, original.budget_inr);
        assert_eq!(got.priority, original.priority);
        assert_eq!(got.status, original.status);
        assert_eq!(got.tags, original.tags);
        assert_eq!(got.assigned_to, Some(other.id), "assigned to the signed-in user");
        assert_eq!(got.version, 1);
    }

    let queued = created_in_outbox(&target);
    assert_eq!(queued.len(), 52, "one create_lead per imported lead");
    let mut ids: Vec<Id> = queued.iter().map(|l| l.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 52);
    let asha_copy = by_phone(&target, "+919876543210");
    assert_eq!(
        queued.iter().find(|l| l.id == asha_copy.id),
        Some(&asha_copy),
        "the queued lead is the cached one"
    );
    assert_eq!(target.pending_count().unwrap().pending, 52);

    // Searchable at once, by name and by any digit form of either number.
    for q in ["ashu", "98765", "9820012", "4155550123"] {
        let found = target
            .list_leads(&LeadQuery {
                search: Some(q.into()),
                ..LeadQuery::default()
            })
            .unwrap();
        assert_eq!(found.len(), 1, "{q}: {found:?}");
    }
}

#[test]
fn formula_cells_are_guarded_phones_are_not_and_the_guard_round_trips() {
    let me = user("priya");
    let mut store = signed_in(&me);
    let mut evil = lead("=HYPERLINK(\"http://evil.example\",\"x\")", "+919876543210", &me);
    evil.city = Some("+cmd|' /C calc'!A0".into());
    evil.interest = Some("-2+3".into());
    evil.tags = vec!["@SUM(1)".into(), "ok".into()];
    evil.email = Some("a@b.in".into());
    pull(&mut store, &[evil.clone()]);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leads.csv");
    store
        .export_leads_csv(std::fs::File::create(&path).unwrap(), &LeadExport::default())
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let row = text.lines().nth(1).unwrap();
    let cells: Vec<String> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(row.as_bytes())
        .records()
        .next()
        .unwrap()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(cells[0], "'=HYPERLINK(\"http://evil.example\",\"x\")");
    assert_eq!(cells[1], "+919876543210", "E.164 phones are written as they are");
    assert_eq!(cells[4], "'+cmd|' /C calc'!A0");
    assert_eq!(cells[6], "'-2+3");
    assert_eq!(cells[10], "'@SUM(1); ok");
    for cell in &cells {
        if cell.starts_with(['=', '-', '@']) {
            panic!("unguarded cell {cell:?}");
        }
        if let Some(digits) = cell.strip_prefix('+') {
            assert!(
                digits.bytes().all(|b| b.is_ascii_digit()),
                "only E.164 may start with +: {cell}"
            );
        }
    }

    let mut again = signed_in(&user("arjun"));
    let done = again
        .import_leads_csv(&std::fs::read(&path).unwrap(), &ImportOptions::default())
        .unwrap();
    assert_eq!(done.created, 1, "{:?}", done.report);
    let got = by_phone(&again, "+919876543210");
    assert_eq!(got.name, evil.name, "the apostrophe is removed on import");
    assert_eq!(got.city, evil.city);
    assert_eq!(got.interest, evil.interest);
    assert_eq!(got.tags, evil.tags);
}

#[test]
fn invalid_rows_are_reported_by_row_and_column_and_the_rest_is_imported() {
    let me = user("priya");
    let mut store = signed_in(&me);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upload.csv");
    std::fs::write(
        &path,
        "Full Name;Mobile;Lead Status;Budget (INR);Notes\n\
         Asha;98765 43210;interested;1.5 lakh;x\n\
         Bad Phone;12345;new;;\n\
         Unknown Status;98200 12345;maybe later;;\n\
         ;98200 12346;;;\n\
         \n\
         Ravi;+44 20 7946 0958;dnc;50k;\n",
    )
    .unwrap();
    let done = store
        .import_leads_csv(&std::fs::read(&path).unwrap(), &ImportOptions::default())
        .unwrap();
    let r = &done.report;
    assert_eq!((r.rows, r.valid, r.invalid, r.blank_rows), (5, 2, 3, 1));
    assert_eq!(done.created, 2);
    assert_eq!(r.ignored_columns, vec!["Notes"]);
    let issues: Vec<(usize, Option<&str>, IssueKind)> = r
        .issues
        .iter()
        .map(|i| (i.row, i.column.as_deref(), i.kind))
        .collect();
    assert_eq!(
        issues,
        vec![
            (3, Some("Mobile"), IssueKind::Invalid),
            (4, Some("Lead Status"), IssueKind::Invalid),
            (5, Some("Full Name"), IssueKind::Invalid),
        ]
    );
    assert!(
        r.issues[1].reason.contains("unknown status"),
        "{}",
        r.issues[1].reason
    );
    assert_eq!(r.issues[0].value.as_deref(), Some("12345"));

    assert_eq!(store.count_leads().unwrap(), 2);
    let asha = by_phone(&store, "+919876543210");
    assert_eq!(
        (asha.status, asha.budget_inr),
        (LeadStatus::Interested, Some(150_000))
    );
    let ravi = by_phone(&store, "+442079460958");
    assert_eq!(ravi.status, LeadStatus::DoNotCall);
    assert_eq!(created_in_outbox(&store).len(), 2);
}

#[test]
fn an_unusable_file_is_refused_whole_and_writes_nothing() {
    let me = user("priya");
    let mut store = signed_in(&me);
    pull(&mut store, &[lead("Existing", "+919000000001", &me)]);
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "unterminated.csv",
            b"name,phone\nAsha,9876543210\n\"Ravi,9820012345\nMeena,9820012346\n".to_vec(),
        ),
        ("book.xlsx", {
            let mut b = b"PK\x03\x04\x14\x00\x06\x00".to_vec();
            b.extend((0..2000u32).map(|i| (i * 31 % 256) as u8));
            b
        }),
        ("random.bin", (0..4096u32).map(|i| (i * 7 % 251) as u8).collect()),
        ("utf16.csv", {
            let mut b = vec![0xFF, 0xFE];
            for u in "name,phone\r\nAsha,9876543210\r\n".encode_utf16() {
                b.extend(u.to_le_bytes());
            }
            b
        }),
        ("noheader.csv", b"Asha,9876543210\nRavi,9820012345\n".to_vec()),
        ("empty.csv", Vec::new()),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let err = store
            .import_leads_csv(&std::fs::read(&path).unwrap(), &ImportOptions::default())
            .unwrap_err();
        match (&err, name) {
            (StoreError::Import(ImportError::UnterminatedQuote { row: 3 }), "unterminated.csv")
            | (StoreError::Import(ImportError::Binary { .. }), "book.xlsx" | "random.bin")
            | (StoreError::Import(ImportError::Utf16 { big_endian: false }), "utf16.csv")
            | (StoreError::Import(ImportError::NoHeader { .. }), "noheader.csv")
            | (StoreError::Import(ImportError::Empty), "empty.csv") => {}
            _ => panic!("{name}: {err:?}"),
        }
        assert!(!err.to_string().is_empty());
        assert_eq!(store.count_leads().unwrap(), 1, "{name}: nothing written");
        assert_eq!(
            store.pending_count().unwrap().pending,
            0,
            "{name}: nothing queued"
        );
    }
    let err = store
        .import_leads_csv(
            b"name,phone\nAsha,9876543210\n\"Ravi,98200\n",
            &ImportOptions::default(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("row 3"), "{err}");
}

#[test]
fn phones_the_cache_has_are_duplicates_or_merged_and_the_merge_is_an_edit() {
    let me = user("priya");
    let mut store = signed_in(&me);
    let mut known = lead("Asha", "+919876543210", &me);
    known.email = None;
    known.city = None;
    known.alternate_phone = Some(PhoneNumber::parse("+919820099999").unwrap());
    pull(&mut store, &[known.clone()]);
    let file = "name,phone,email,city\n\
                Asha M,098765-43210,asha@example.com,Pune\n\
                Someone,9820099999,,\n\
                New,9820012345,,\n\
                New again,+91 98200 12345,new@example.com,\n";

    let done = store
        .import_leads_csv(file.as_bytes(), &ImportOptions::default())
        .unwrap();
    assert_eq!((done.created, done.duplicates, done.merged), (1, 2, 0));
    assert_eq!(done.report.duplicates, 1, "row 5 repeats row 4 in the file");
    let kinds: Vec<(usize, IssueKind)> = done.report.issues.iter().map(|i| (i.row, i.kind)).collect();
    assert_eq!(
        kinds,
        vec![
            (2, IssueKind::Duplicate),
            (3, IssueKind::Duplicate),
            (5, IssueKind::Duplicate)
        ]
    );
    assert!(done.report.issues[0].reason.contains(&known.id.to_string()));
    assert_eq!(store.get_lead(&known.id).unwrap(), known, "untouched");
    assert_eq!(store.count_leads().unwrap(), 2);
    assert_eq!(created_in_outbox(&store).len(), 1);

    // The same file again, merging: the known lead's empty fields are filled by an ordinary edit, the
    // lead imported a moment ago is not created twice.
    let merge = ImportOptions {
        merge_duplicates: true,
        ..ImportOptions::default()
    };
    let done = store.import_leads_csv(file.as_bytes(), &merge).unwrap();
    assert_eq!((done.created, done.duplicates, done.merged), (0, 0, 3));
    let asha = store.get_lead(&known.id).unwrap();
    assert_eq!(asha.email.as_deref(), Some("asha@example.com"));
    assert_eq!(asha.city.as_deref(), Some("Pune"));
    assert_eq!(asha.name, "Asha", "the name is kept");
    let new = by_phone(&store, "+919820012345");
    assert_eq!(
        new.email.as_deref(),
        Some("new@example.com"),
        "filled from the merged row 5"
    );
    let ops: Vec<MutationOp> = store
        .outbox_pending(100)
        .unwrap()
        .into_iter()
        .map(|e| e.mutation.op)
        .collect();
    assert_eq!(ops.len(), 3, "{ops:?}");
    assert!(
        matches!(&ops[1], MutationOp::UpdateLead { lead_id, base_version: 3, patch }
        if *lead_id == known.id && patch.email.as_deref() == Some("asha@example.com") && patch.status.is_none())
    );
    assert!(matches!(&ops[2], MutationOp::UpdateLead { lead_id, base_version: 1, .. } if *lead_id == new.id));
}

#[test]
fn importing_needs_a_signed_in_user() {
    let mut store = Store::open_in_memory().unwrap();
    let err = store
        .import_leads_csv(b"name,phone\nAsha,9876543210\n", &ImportOptions::default())
        .unwrap_err();
    assert!(matches!(err, StoreError::NotSignedIn), "{err:?}");
    assert_eq!(store.count_leads().unwrap(), 0);
}

#[test]
fn exports_filter_and_write_a_bom_when_asked() {
    let me = user("priya");
    let mut store = signed_in(&me);
    let a = lead("Asha", "+919876543210", &me);
    let mut b = lead("Ravi", "+919820012345", &me);
    b.status = LeadStatus::Converted;
    pull(&mut store, &[a.clone(), b.clone()]);
    let start = now() - Duration::minutes(5);
    let call = CallLog {
        id: new_id(),
        lead_id: a.id,
        telecaller_id: me.id,
        direction: CallDirection::Outbound,
        started_at: start,
        answered_at: Some(start + Duration::seconds(8)),
        ended_at: Some(start + Duration::seconds(128)),
        duration_s: 120,
        disposition: "interested".into(),
        outcome_tags: vec!["price".into()],
        notes: "=1+1 wants \"gold\", call back\nafter Diwali".into(),
        follow_up: None,
        recording_url: None,
        provider_call_id: None,
        device_id: None,
        quality: Some(leadline_model::CallQuality {
            rtt_ms: Some(85.5),
            codec: Some("opus".into()),
            ..leadline_model::CallQuality::new(4.2, 3.25, 0.015)
        }),
    };
    store.log_call(&call).unwrap();

    let mut out = Vec::new();
    let n = store
        .export_leads_csv(
            &mut out,
            &LeadExport {
                bom: true,
                status: Some(LeadStatus::Converted),
                assigned_to: None,
            },
        )
        .unwrap();
    assert_eq!(n, 1);
    assert!(out.starts_with(b"\xEF\xBB\xBFname,phone,"));
    let text = String::from_utf8(out[3..].to_vec()).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(text.contains("Ravi"));
    // The import reads the BOM file.
    let mut again = signed_in(&user("arjun"));
    assert_eq!(
        again
            .import_leads_csv(&out, &ImportOptions::default())
            .unwrap()
            .created,
        1
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("calls.csv");
    let n = store
        .export_call_logs_csv(std::fs::File::create(&path).unwrap(), &CallExport::default())
        .unwrap();
    assert_eq!(n, 1);
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(header, leadline_store::CALL_EXPORT_COLUMNS);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(&row[0], call.id.to_string());
    assert_eq!(&row[2], "Asha");
    assert_eq!(&row[3], "+919876543210");
    assert_eq!(&row[4], "priya");
    assert_eq!(&row[9], "120");
    assert_eq!(&row[10], "interested");
    assert_eq!(&row[12], "'=1+1 wants \"gold\", call back\nafter Diwali");
    let quality: Vec<&str> = (17..22).map(|i| &row[i]).collect();
    assert_eq!(quality, ["4.2", "85.5", "3.25", "0.015", "opus"]);
    let none = store
        .export_call_logs_csv(
            Vec::new(),
            &CallExport {
                since: Some(now() + Duration::minutes(1)),
                ..CallExport::default()
            },
        )
        .unwrap();
    assert_eq!(none, 0);
}

#[test]
fn the_lead_list_exports_as_filtered_and_selected_in_its_order_with_the_same_rows() {
    let me = user("priya");
    let mut store = signed_in(&me);
    let mut leads: Vec<Lead> = (0..2_100)
        .map(|i| lead(&format!("Lead {i:04}"), &format!("+9198200{i:05}"), &me))
        .collect();
    for (i, l) in leads.iter_mut().enumerate() {
        l.status = if i % 3 == 2 {
            LeadStatus::New
        } else {
            LeadStatus::Interested
        };
    }
    pull(&mut store, &leads);
    let clock = leadline_store::Clock::new(now(), 330);
    let query = leadline_store::LeadPageQuery {
        filter: leadline_store::LeadFilter {
            statuses: vec![LeadStatus::Interested],
            ..Default::default()
        },
        sort: leadline_store::LeadOrder {
            key: leadline_store::LeadOrderKey::Name,
            descending: false,
        },
        ..Default::default()
    };
    // Every page of the filter (1,400 leads: two pages of the export), in the list's order.
    let mut out = Vec::new();
    let n = store
        .export_lead_list_csv(&mut out, &query, None, false, &clock)
        .unwrap();
    assert_eq!(n, 1_400);
    assert!(n > u64::from(leadline_store::EXPORT_PAGE));
    let mut reader = csv::Reader::from_reader(out.as_slice());
    let names: Vec<String> = reader.records().map(|r| r.unwrap()[0].to_owned()).collect();
    let mut expected: Vec<String> = leads
        .iter()
        .filter(|l| l.status == LeadStatus::Interested)
        .map(|l| l.name.clone())
        .collect();
    expected.sort();
    assert_eq!(names, expected);

    // The same rows as the plain export writes for those leads.
    let mut plain = Vec::new();
    store
        .export_leads_csv(
            &mut plain,
            &LeadExport {
                status: Some(LeadStatus::Interested),
                ..Default::default()
            },
        )
        .unwrap();
    let mut a: Vec<String> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let mut b: Vec<String> = String::from_utf8(plain)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);

    // A selection: just those, with a BOM.
    let picked = [leads[0].id, leads[3].id, leads[2].id];
    let mut out = Vec::new();
    let n = store
        .export_lead_list_csv(&mut out, &query, Some(&picked), true, &clock)
        .unwrap();
    assert_eq!(n, 2, "lead 2 is new: outside the filter");
    assert!(out.starts_with(b"\xEF\xBB\xBFname,"));
}
