"""What pages and the CLI call: the job queue and job functions, browsing, timelines, figures."""
