//! Operation generators and their models (filled by the harness issue).
