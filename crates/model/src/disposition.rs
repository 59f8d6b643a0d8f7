use serde::{Deserialize, Serialize};

use crate::enums::string_enum;

string_enum! {
    /// Whether the telecaller spoke to the lead.
    DispositionCategory, "disposition category" {
        Connected => "connected",
        NotConnected => "not_connected",
    }
}

/// An outcome a telecaller picks at the end of a call.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disposition {
    /// Stable code stored in call logs, e.g. `visit_booked`.
    pub code: String,
    pub label: String,
    pub category: DispositionCategory,
    /// The wrap-up form insists on a follow-up time.
    pub requires_follow_up: bool,
    /// Key 1–9 that picks it in the wrap-up form.
    #[serde(default)]
    pub hotkey: Option<u8>,
}

/// The catalogue a jewellery retailer starts with; admins edit it on the server later.
pub fn default_catalogue() -> Vec<Disposition> {
    use DispositionCategory::{Connected, NotConnected};
    let d = |code: &str, label: &str, category, requires_follow_up, hotkey| Disposition {
        code: code.to_owned(),
        label: label.to_owned(),
        category,
        requires_follow_up,
        hotkey,
    };
    vec![
        d(
            "interested",
            "Interested – send catalogue",
            Connected,
            true,
            Some(1),
        ),
        d("visit_booked", "Store visit booked", Connected, true, Some(2)),
        d("callback_requested", "Call back later", Connected, true, Some(3)),
        d(
            "price_enquiry",
            "Asked gold rate / making charges",
            Connected,
            true,
            Some(4),
        ),
        d("converted", "Purchased / order placed", Connected, false, Some(5)),
        d("not_interested", "Not interested", Connected, false, Some(6)),
        d("no_answer", "Ringing, no answer", NotConnected, true, Some(7)),
        d("busy", "Busy / call cut", NotConnected, true, Some(8)),
        d(
            "switched_off",
            "Switched off / not reachable",
            NotConnected,
            true,
            Some(9),
        ),
        d("wrong_number", "Wrong number", Connected, false, None),
        d("do_not_call", "Asked not to be called", Connected, false, None),
        d(
            "invalid_number",
            "Number does not exist",
            NotConnected,
            false,
            None,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn catalogue_codes_and_hotkeys_are_unique() {
        let cat = default_catalogue();
        let codes: HashSet<_> = cat.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes.len(), cat.len());
        let keys: Vec<_> = cat.iter().filter_map(|d| d.hotkey).collect();
        let unique: HashSet<_> = keys.iter().collect();
        assert_eq!(unique.len(), keys.len());
        assert!(keys.iter().all(|k| (1..=9).contains(k)));
    }
}
