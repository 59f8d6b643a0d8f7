//! The lead list's commands: pages of the filtered, ordered list for the virtual list, and its CSV
//! export (`Store::list_lead_page`, `lead_status_counts`, `export_lead_list_csv`). All from the cache.

use std::path::{Path, PathBuf};

use leadline_store::{Clock, LeadFilter, LeadPageQuery, MAX_PAGE, TimeRange};

use crate::api::{CommandError, ErrorCode, ExportLeadsArgs, LeadListArgs, LeadListView, StatusTally};
use crate::shell::{Shell, storage};

/// The store's query for the list's arguments.
fn page_query(args: &LeadListArgs) -> LeadPageQuery {
    let created = (args.created_from.is_some() || args.created_until.is_some()).then_some(TimeRange {
        from: args.created_from,
        until: args.created_until,
    });
    LeadPageQuery {
        filter: LeadFilter {
            search: args.search.clone().filter(|s| !s.trim().is_empty()),
            statuses: args.statuses.clone(),
            priorities: args.priorities.clone(),
            sources: args.sources.clone(),
            follow_up: args.follow_up,
            created,
            ..LeadFilter::default()
        },
        sort: args.sort,
        limit: Some(args.limit.unwrap_or(200).clamp(1, MAX_PAGE)),
        cursor: args.cursor.clone(),
    }
}

impl Shell {
    /// One page of the lead list; the first page also counts the matches (in all and per status).
    pub async fn lead_page(&self, args: LeadListArgs) -> Result<LeadListView, CommandError> {
        let query = page_query(&args);
        let clock = Clock::system();
        let store = self.shared_store()?.lock();
        let page = store.list_lead_page(&query, &clock).map_err(list_failure)?;
        let (matched, by_status) = if args.cursor.is_none() {
            let counts = store.lead_status_counts(&query.filter, &clock).map_err(storage)?;
            let matched = counts
                .iter()
                .filter(|c| args.statuses.is_empty() || args.statuses.contains(&c.status))
                .map(|c| c.count)
                .sum();
            let tallies = counts
                .into_iter()
                .map(|c| StatusTally {
                    status: c.status,
                    count: c.count,
                })
                .collect();
            (Some(matched), tallies)
        } else {
            (None, Vec::new())
        };
        Ok(LeadListView {
            leads: page.leads,
            next_cursor: page.next_cursor,
            matched,
            by_status,
        })
    }

    /// Writes the list (or the selection in it) as CSV into `dir`, with a byte-order mark so that Excel
    /// reads Indian names right; answers the file's path and how many leads it holds.
    pub async fn export_leads(
        &self,
        args: ExportLeadsArgs,
        dir: &Path,
    ) -> Result<(PathBuf, u64), CommandError> {
        let query = page_query(&args.list);
        let path = dir.join(format!(
            "leads-{}.csv",
            chrono::Local::now().format("%Y%m%d-%H%M%S")
        ));
        std::fs::create_dir_all(dir).map_err(|e| file_failure(dir, &e))?;
        let file = std::fs::File::create(&path).map_err(|e| file_failure(&path, &e))?;
        let written = self
            .shared_store()?
            .lock()
            .export_lead_list_csv(
                std::io::BufWriter::new(file),
                &query,
                args.only.as_deref(),
                true,
                &Clock::system(),
            )
            .map_err(list_failure)?;
        Ok((path, written))
    }
}

fn list_failure(e: leadline_store::StoreError) -> CommandError {
    match e {
        // A cursor from another filter, or a damaged one: the list starts again.
        e @ leadline_store::StoreError::BadCursor(_) => {
            CommandError::new(ErrorCode::InvalidInput, e.to_string())
        }
        e => storage(e),
    }
}

fn file_failure(path: &Path, e: &std::io::Error) -> CommandError {
    CommandError::new(
        ErrorCode::Storage,
        format!("The file {} could not be written: {e}", path.display()),
    )
}
