//! The results store: history files, reports, plots (filled by the harness issue).
